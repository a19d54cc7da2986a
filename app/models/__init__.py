"""All models, imported here so Alembic and the app see one complete metadata."""

from app.models.keys import DataKey
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

__all__ = [
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
