"""The organisation profile: what an administrator sets once so practitioners are not asked it on every check.

The lawful basis (UK GDPR Article 6) is decided by the organisation's data protection officer, once, for its
safeguarding work; a practitioner should see that decision and change it only when advised. The local emergency
contacts are shown first on the immediate-danger path, where there is no time to look them up.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class OrganisationKind(StrEnum):
    PUBLIC_BODY = "public_body"
    HEALTH = "health"
    SCHOOL = "school"
    INDEPENDENT_SCHOOL = "independent_school"
    VOLUNTARY = "voluntary"
    PRIVATE = "private"


DEFAULT_BASIS: dict[OrganisationKind, str] = {
    # public authorities keep public task for their official functions (ICO, DOMAIN.md 5.1)
    OrganisationKind.PUBLIC_BODY: "public_task",
    OrganisationKind.HEALTH: "public_task",
    OrganisationKind.SCHOOL: "public_task",
    # in force since 5 February 2026: recognised legitimate interest, safeguarding condition (UK GDPR Art 6(1)(ea))
    OrganisationKind.INDEPENDENT_SCHOOL: "recognised_legitimate_interest",
    OrganisationKind.VOLUNTARY: "recognised_legitimate_interest",
    OrganisationKind.PRIVATE: "recognised_legitimate_interest",
}
"""The lawful basis choice (a content pack's choice id) each kind of organisation uses by default."""


class EmergencyContact(BaseModel):
    """A number or service to call when someone is in immediate danger (MASH or front door, out of hours, police)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1, max_length=120)
    contact: str = Field(min_length=1, max_length=120)


DEFAULT_CONTACTS = (EmergencyContact(label="Police or ambulance, when someone is in immediate danger", contact="999"),)


class OrganisationProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: OrganisationKind | None = None
    """None: no profile set, so the check asks for the lawful basis as a plain question."""
    contacts: tuple[EmergencyContact, ...] = DEFAULT_CONTACTS

    @property
    def default_basis(self) -> str | None:
        return DEFAULT_BASIS[self.kind] if self.kind is not None else None
