"""The plugin manager: built-ins, entry-point autoload, blocking, error isolation.

Built-in plugins (the package `videollm_plugins`, listed in its
`BUILTIN_PLUGINS`) and third-party plugins (entry point group `videollm`) load
the same way: each one on its own, its `videollm_register` hook called under its
name. A plugin that fails (import error, exception in its hook, an incompatible
plugin API range, a clashing registration) is recorded as failed with its error,
whatever it registered is rolled back, and everything else keeps working, unless
strict mode is on (`--strict-plugins` or `VIDEOLLM_STRICT_PLUGINS=1`).

Switches, as in pytest: `-p no:NAME` blocks a plugin before anything loads, except the
`ESSENTIAL_PLUGINS` the kernel's defaults come from;
`VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD=1` skips entry points (built-ins still load).

The process-wide `REGISTRIES` load the plugins on their first lookup.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as metadata
import logging
import os
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import pluggy

from . import hookspecs
from .base import PLUGIN_API_VERSION
from .errors import PluginError
from .registry import Registries, registering_as

log = logging.getLogger("videollm")

ENTRY_POINT_GROUP = "videollm"
BUILTIN_PACKAGE = "videollm_plugins"
ENV_DISABLE_AUTOLOAD = "VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD"
ENV_STRICT = "VIDEOLLM_STRICT_PLUGINS"
DISTRIBUTION = "videollm-core"
#: built-in plugins the kernel's defaults come from (`model.tuner` defaults to `Frozen`,
#: `model.text_encoder` to `LLMTextEncoder`): `-p no:` refuses them, as pytest does its essential plugins.
ESSENTIAL_PLUGINS = ("tuning", "encoders")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


@dataclass
class PluginInfo:
    """What `videollm plugins` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    status: str = "pending"  # loaded | blocked | failed | incompatible
    error: str | None = None
    api: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class PluginManager:
    """Loads plugins into a [`Registries`][videollm_core.registry.Registries].

    Args:
        registries: where plugins register (default: a fresh one).
        blocked: plugin names not to load (`-p no:NAME`).
        strict: make any plugin failure fatal (default: `VIDEOLLM_STRICT_PLUGINS`).
        autoload: load entry points of group `videollm` (default: not
            `VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD`).
        builtins: load the built-in plugins of `videollm_plugins`.
    """

    def __init__(
        self,
        registries: Registries | None = None,
        *,
        blocked: Iterable[str] = (),
        strict: bool | None = None,
        autoload: bool | None = None,
        builtins: bool = True,
    ) -> None:
        self.blocked = set(blocked)
        essential = sorted(self.blocked & set(ESSENTIAL_PLUGINS)) if builtins else []
        if essential:
            raise PluginError(f"plugin '{essential[0]}' cannot be blocked: the kernel's defaults come from it",
                              where=f"-p no:{essential[0]}", hint="block another plugin, or none")
        self.registries = registries if registries is not None else Registries()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = _env_flag(ENV_STRICT) if strict is None else bool(strict)
        self.autoload = (not _env_flag(ENV_DISABLE_AUTOLOAD)) if autoload is None else bool(autoload)
        self.builtins = builtins
        self.infos: dict[str, PluginInfo] = {}
        self._loaded = False
        self._loading = False
        self.registries.attach(self.load, self.problems)

    @property
    def hook(self) -> Any:
        """pluggy's hook relay: `manager.hook.videollm_step_end(runner=..., ...)`."""
        return self.pm.hook

    # -- loading --------------------------------------------------------------
    def load(self) -> None:
        """Load built-ins, then entry points (once; later calls do nothing)."""
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            if self.builtins:
                self._load_builtins()
            if self.autoload:
                self._load_entry_points()
        finally:
            self._loading = False
            self._loaded = True

    def _load_builtins(self) -> None:
        version = _distribution_version(DISTRIBUTION)
        try:
            package = importlib.import_module(BUILTIN_PACKAGE)
            builtins: dict[str, str] = dict(package.BUILTIN_PLUGINS)
        except Exception as e:  # the built-ins package itself is broken
            info = PluginInfo(BUILTIN_PACKAGE, BUILTIN_PACKAGE, DISTRIBUTION, version, builtin=True)
            self.infos[info.name] = info
            self._fail(info, e)
            return
        for name, module in builtins.items():
            self._load_one(name, module, lambda: importlib.import_module(module), DISTRIBUTION, version, builtin=True)

    def _load_entry_points(self) -> None:
        for ep in _entry_points():
            dist = getattr(ep, "dist", None)
            dist_name = getattr(dist, "name", None) if dist is not None else None
            dist_version = getattr(dist, "version", None) if dist is not None else None
            if ep.name in self.infos:
                clash = PluginInfo(ep.name, ep.value, dist_name, dist_version)
                clash.status, clash.error = "failed", f"plugin name '{ep.name}' is already taken by {self.infos[ep.name].module}"
                log.warning("plugin '%s' from %s skipped: %s", ep.name, dist_name, clash.error)
                self.infos[f"{ep.name}@{dist_name}"] = clash
                if self.strict:
                    raise PluginError(clash.error, where=f"plugin '{ep.name}' ({dist_name})", hint="rename the entry point")
                continue
            self._load_one(ep.name, ep.value, ep.load, dist_name, dist_version, builtin=False)

    def register(self, plugin: Any, name: str | None = None, *, distribution: str | None = None, version: str | None = None) -> PluginInfo:
        """Register a plugin object or module at run time (tests, notebooks)."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        self.load()
        module = getattr(plugin, "__name__", type(plugin).__qualname__)
        return self._load_one(name, module, lambda: plugin, distribution, version, builtin=False)

    def _load_one(self, name: str, module: str, loader: Callable[[], Any], dist: str | None, version: str | None, *, builtin: bool) -> PluginInfo:
        info = PluginInfo(name, module, dist, version, builtin=builtin)
        self.infos[name] = info
        if name in self.blocked:
            info.status = "blocked"
            log.info("plugin '%s' blocked (-p no:%s)", name, name)
            return info
        try:
            obj = loader()
            info.api = getattr(obj, "VIDEOLLM_API", None)
            self._check_api(info)
            self.pm.register(obj, name=name)
        except Exception as e:
            self._fail(info, e)
            return info
        impls = [i for i in self.pm.hook.videollm_register.get_hookimpls() if i.plugin_name == name]
        try:
            with registering_as(name):
                for impl in impls:
                    impl.function(registries=self.registries)
                for impl in [i for i in self.pm.hook.videollm_config_keys.get_hookimpls() if i.plugin_name == name]:
                    self.registries.add_config_keys(name, impl.function())
        except Exception as e:
            self.registries.unregister_plugin(name)
            self.pm.unregister(name=name)
            self._fail(info, e)
            return info
        info.status = "loaded"
        info.registered = self.registries.registered_by(name)
        return info

    def _check_api(self, info: PluginInfo) -> None:
        if not info.api:
            return
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            ok = SpecifierSet(str(info.api)).contains(PLUGIN_API_VERSION, prereleases=True)
        except InvalidSpecifier as e:
            raise PluginError(f"VIDEOLLM_API = {info.api!r} is not a version range ({e})") from e
        if not ok:
            info.status = "incompatible"
            raise PluginError(
                f"supports plugin API {info.api}, but this videollm-core provides plugin API {PLUGIN_API_VERSION}",
                hint="install a version of the plugin made for this videollm-core, or block it with -p no:NAME",
            )

    def _fail(self, info: PluginInfo, error: BaseException) -> None:
        if info.status != "incompatible":
            info.status = "failed"
        info.error = error.message if isinstance(error, PluginError) else f"{type(error).__name__}: {error}"
        log.warning("plugin '%s' (%s) %s: %s", info.name, info.module, info.status, info.error)
        if self.strict:
            raise PluginError(
                f"plugin '{info.name}' {info.status}: {info.error}",
                where=f"plugin '{info.name}' ({info.distribution or info.module})",
                hint=f"fix or uninstall it, or block it with -p no:{info.name}; without --strict-plugins it is skipped",
            ) from error

    # -- status ---------------------------------------------------------------
    def problems(self) -> dict[str, str]:
        """Plugins that are not loaded: `{name: "blocked (-p no:NAME)" | "failed: ..."}`."""
        out = {}
        for name, info in self.infos.items():
            if info.status == "blocked":
                out[name] = f"blocked (-p no:{name})"
            elif info.status in ("failed", "incompatible"):
                out[name] = f"{info.status}: {info.error}"
        return out

    def plugins(self) -> list[PluginInfo]:
        self.load()
        return list(self.infos.values())


def _entry_points() -> list[metadata.EntryPoint]:
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    seen, out = set(), []
    for ep in eps:  # the same distribution on sys.path twice lists its entry points twice
        key = (ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            out.append(ep)
    return out


def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


#: the process-wide registries: the default plugin manager fills them on their first lookup.
REGISTRIES = Registries()
_DEFAULT: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide manager filling `REGISTRIES` (made on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PluginManager(REGISTRIES)
    return _DEFAULT


REGISTRIES.attach(lambda: get_plugin_manager().load(), lambda: get_plugin_manager().problems())


def configure_plugins(*, blocked: Iterable[str] = (), strict: bool | None = None, autoload: bool | None = None) -> PluginManager:
    """Set up the process-wide manager (the CLI does this before any lookup).

    Calling it again starts over: the global registries are emptied and plugins
    load anew with the new settings.
    """
    global _DEFAULT
    REGISTRIES.restore(None)
    _DEFAULT = PluginManager(REGISTRIES, blocked=blocked, strict=strict, autoload=autoload)
    return _DEFAULT


def configure_config(cfg: Any) -> Any:
    """Let every plugin adjust a loaded config through its `videollm_configure(config=...)` hook
    (plugins load first). Reading a config ([`load_config`][videollm_core.config.load_config]) never does:
    the caller fires the hook, before validating and building."""
    manager = get_plugin_manager()
    manager.load()
    manager.hook.videollm_configure(config=cfg)
    return cfg


@contextlib.contextmanager
def preserved_plugin_state() -> Iterator[None]:
    """Put the process-wide plugin manager and registries back as they were after the block
    (for tests and notebooks that call [`configure_plugins`][videollm_core.plugins.configure_plugins], e.g. through the CLI)."""
    global _DEFAULT
    saved_default, saved = _DEFAULT, REGISTRIES.snapshot()
    saved_hooks = {name for name, _ in saved_default.pm.list_name_plugin()} if saved_default is not None else set()
    saved_infos = dict(saved_default.infos) if saved_default is not None else {}
    try:
        yield
    finally:
        if saved_default is not None:  # hook implementations registered inside the block go too
            for name, plugin in list(saved_default.pm.list_name_plugin()):
                if plugin is not None and name not in saved_hooks:
                    saved_default.pm.unregister(name=name)
            saved_default.infos.clear()
            saved_default.infos.update(saved_infos)
        _DEFAULT = saved_default
        REGISTRIES.restore(saved)


ENCODERS, TRANSLATORS, LLMS, TUNERS = REGISTRIES.encoders, REGISTRIES.translators, REGISTRIES.llms, REGISTRIES.tuners
HEADS, DATASETS, METRICS, FEATURES = REGISTRIES.heads, REGISTRIES.datasets, REGISTRIES.metrics, REGISTRIES.features
