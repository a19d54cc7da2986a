"""All models, imported here so Alembic and the app see one complete metadata."""

from app.models.acts import Act, DisappearanceDetails, FamilyStep, Involvement
from app.models.audit import AuditEntry
from app.models.cases import Case, CaseNote, CaseReferenceCounter, case_members
from app.models.checkpoints import AuditCheckpoint
from app.models.duplicates import DuplicateCandidate
from app.models.evidence import CustodyEvent, EvidenceItem
from app.models.followups import FollowUp
from app.models.keys import DataKey
from app.models.people import ConsentRecord, Person, PersonName
from app.models.searches import SavedSearch
from app.models.sources import AllegationLink, Source, Testimony
from app.models.users import (
    OneTimeToken,
    RecoveryCode,
    Role,
    Team,
    TokenPurpose,
    User,
    WebSession,
    team_members,
)
from app.models.vocab import District, VocabularyTerm

__all__ = [
    "Act",
    "AllegationLink",
    "AuditCheckpoint",
    "AuditEntry",
    "Case",
    "CaseNote",
    "CaseReferenceCounter",
    "ConsentRecord",
    "CustodyEvent",
    "DisappearanceDetails",
    "DuplicateCandidate",
    "District",
    "EvidenceItem",
    "FamilyStep",
    "FollowUp",
    "Involvement",
    "Person",
    "PersonName",
    "SavedSearch",
    "Source",
    "Testimony",
    "VocabularyTerm",
    "case_members",
    "DataKey",
    "OneTimeToken",
    "RecoveryCode",
    "Role",
    "Team",
    "TokenPurpose",
    "User",
    "WebSession",
    "team_members",
]
