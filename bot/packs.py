"""The content packs this deployment uses, loaded once and shared by every conversation."""

from __future__ import annotations

from collections.abc import Sequence

from dialogs.content import Pack, available_packs, load_archived_pack, load_pack
from dialogs.engine import Engine
from dialogs.messages import LinkView
from dialogs.profile import OrganisationProfile


class PackRegistry:
    def __init__(
        self, default_pack: str, links: Sequence[LinkView] = (), profile: OrganisationProfile | None = None
    ) -> None:
        self.default_pack = default_pack
        self._links = tuple(links)
        self._profile = profile
        self._engines: dict[str, Engine] = {}
        self.engine(default_pack)  # fail at start-up, not mid-conversation, if the configured pack is broken

    def engine(self, pack_id: str | None = None, version: str | None = None) -> Engine:
        """The pack's engine; with ``version``, the engine of that version when it is kept in the archive, so a
        check in flight finishes under the flow it started with (otherwise the current one, which loads its state
        only if every step it has been through still exists)."""
        pack_id = pack_id or self.default_pack
        engine = self._engines.get(pack_id)
        if engine is None:
            engine = Engine(load_pack(pack_id), self._links, self._profile)
            self._engines[pack_id] = engine
        if version is None or version == engine.pack.version:
            return engine
        key = f"{pack_id}@{version}"
        archived = self._engines.get(key)
        if archived is None:
            pack = load_archived_pack(pack_id, version)
            archived = Engine(pack, self._links, self._profile) if pack is not None else engine
            self._engines[key] = archived
        return archived

    def pack(self, pack_id: str | None = None) -> Pack:
        return self.engine(pack_id).pack

    @staticmethod
    def available() -> list[str]:
        return list(available_packs())
