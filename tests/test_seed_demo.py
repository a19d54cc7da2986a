"""`amanat seed-demo`: fictional cases through the services, every act type, invitation links."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.domain.vocab import ACT_TYPE
from app.extensions import db
from app.models import Act, AllegationLink, Case, FamilyStep, Person, User
from app.services import people


def test_seed_demo_creates_cases_with_every_act_type(app, runner):
    result = runner.invoke(args=["seed-demo", "--cases", "24"])
    assert result.exit_code == 0, result.output
    links = re.findall(r"http://\S+/invite/\S+", result.output)
    assert len(links) == 4 and "password" not in result.output.replace("set a password", "")
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 24
        types = set(db.session.execute(select(Act.act_type).distinct()).scalars())
        assert types == set(ACT_TYPE)
        users = db.session.execute(select(User)).scalars().all()
        assert sorted(u.role for u in users) == ["caseworker"] * 3 + ["supervisor"]
        assert all(u.password_hash is None for u in users)  # invitation links, no passwords
        assert {t.name for u in users for t in u.teams} == {"Quetta", "Turbat"}
        restricted = db.session.execute(select(Case).where(
            Case.confidentiality == "restricted")).scalars().all()
        assert restricted
        statuses = set(db.session.execute(select(Act.allegation_status)).scalars())
        assert {"alleged", "corroborated"} <= statuses
        unsupported = db.session.execute(select(func.count()).select_from(Act).where(
            ~Act.id.in_(select(AllegationLink.act_id)))).scalar_one()
        assert unsupported > 0
        steps = set(db.session.execute(select(FamilyStep.step)).scalars())
        assert {"police_report_filed", "police_report_refused", "habeas_corpus"} & steps
        assert len(set(db.session.execute(select(Case.status)).scalars())) >= 3
        # Spelling variants are recorded as other names and found by exact-match search.
        someone = db.session.execute(select(Person).where(Person.cnic_bidx.is_not(None))
                                     ).scalars().first()
        variant = someone.other_names[0].name
        owner = db.session.get(User, db.session.get(Case, someone.case_id).owner_id)
        assert someone in people.find_people(owner, {"full_name": variant})


def test_seed_demo_refuses_a_non_empty_database(app, runner):
    assert runner.invoke(args=["seed-demo", "--cases", "3"]).exit_code == 0
    again = runner.invoke(args=["seed-demo", "--cases", "3"])
    assert again.exit_code != 0 and "--force" in again.output
    forced = runner.invoke(args=["seed-demo", "--cases", "3", "--force"])
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 6
        assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 4
