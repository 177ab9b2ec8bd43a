"""The content packs this deployment uses, loaded once and shared by every conversation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dialogs.content import PACKS_DIR, Pack, available_packs, load_archived_pack, load_pack
from dialogs.engine import Engine
from dialogs.messages import LinkView
from dialogs.profile import OrganisationProfile


class PackRegistry:
    def __init__(
        self,
        default_pack: str,
        links: Sequence[LinkView] = (),
        profile: OrganisationProfile | None = None,
        own_packs: Path | None = None,
    ) -> None:
        self.default_pack = default_pack
        # the organisation's own folder first, so its pack of a given id is the one used
        self._dirs = (own_packs, PACKS_DIR) if own_packs is not None else (PACKS_DIR,)
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
            engine = Engine(load_pack(pack_id, self._dir_of(pack_id)), self._links, self._profile)
            self._engines[pack_id] = engine
        if version is None or version == engine.pack.version:
            return engine
        key = f"{pack_id}@{version}"
        archived = self._engines.get(key)
        if archived is None:
            pack = load_archived_pack(pack_id, version, self._dir_of(pack_id))
            archived = Engine(pack, self._links, self._profile) if pack is not None else engine
            self._engines[key] = archived
        return archived

    def pack(self, pack_id: str | None = None) -> Pack:
        return self.engine(pack_id).pack

    def available(self) -> list[str]:
        return sorted({p for d in self._dirs for p in available_packs(d)})

    def _dir_of(self, pack_id: str) -> Path:
        return next((d for d in self._dirs if pack_id in available_packs(d)), PACKS_DIR)
