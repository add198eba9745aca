"""One registry per component role: the project's own small class.

Its interface is mmengine's: `register_module(name=..., force=..., module=...)` (as a call or a
decorator) and `build(cfg)`, so plugin code reads as in OpenMMLab projects; what mmengine adds
beside (scopes and `DefaultScope` re-routing, parent/child fallback, lazy `locations` imports, the
dotted-path fallback that imports any object named in a config) is not there. A `type:` is a
registered name, or `PLUGIN:NAME` to pick one plugin's component.

Every registration is attributed to the plugin being loaded (see
`registering_as`), so duplicates and listings name their origin.
"""
from __future__ import annotations

import contextlib
import contextvars
import difflib
import logging
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, TypeVar


from .base import ROLE_BASES, supplying
from .errors import ConfigError, ConfigErrors, PluginError, RegistryError, UserError
from .signature import accepts_var_kwargs, check_arguments, constructor_parameters

if TYPE_CHECKING:  # pragma: no cover
    from .base import Encoder, Executor, FeatureSource, LLMAdapter, Metric, TaskHead, TextEncoder, Translator, Tuner, VideoDataset

log = logging.getLogger("videollm")

ROLES: tuple[str, ...] = ("encoders", "translators", "llms", "tuners", "heads", "datasets", "metrics", "features", "executors")

#: the plugin whose `videollm_register` hook is running now.
_CURRENT_PLUGIN: contextvars.ContextVar[str] = contextvars.ContextVar("videollm_plugin", default="<python>")


@contextlib.contextmanager
def registering_as(plugin: str) -> Iterator[None]:
    """Attribute every registration made inside the block to `plugin`."""
    token = _CURRENT_PLUGIN.set(plugin)
    try:
        yield
    finally:
        _CURRENT_PLUGIN.reset(token)


#: exceptions of a constructor that mean a bug in the component, never wrapped as config errors.
_PROGRAMMING_ERRORS = (AttributeError, NameError, AssertionError, NotImplementedError, SyntaxError, RecursionError)


def _yaml_place(own: str | None, class_name: str, where: str) -> str:
    """The place of a constructor's error: `ClassName.arg` (or nothing) becomes `where.arg`;
    a file or another YAML path it named stays."""
    if not own or own == class_name:
        return where
    if own.startswith(class_name + "."):
        return where + own[len(class_name):]
    return own


def _skipped_module_init(error: BaseException) -> bool:
    """Whether `error` came from torch's `Module.__setattr__`/`__getattr__` on a module whose
    `nn.Module.__init__` never ran (no `_parameters` yet): a constructor that set a sub-module
    before calling its base class's. Read from the traceback's frames, not the message's words."""
    from torch import nn

    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    owner = tb.tb_frame.f_locals.get("self") if tb is not None and tb.tb_frame.f_code.co_name in ("__setattr__", "__getattr__") else None
    return isinstance(owner, nn.Module) and "_parameters" not in vars(owner)


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


_C = TypeVar("_C")  # the role's base class


class ComponentRegistry(Generic[_C]):
    """The registry of one role (e.g. `translators`).

    Args:
        role: the role name, one of `ROLES`.
        bases: a registered class must subclass one of these.
        owner: the [`Registries`][videollm_core.registry.Registries] container (for plugin status in messages).
    """

    def __init__(self, role: str, bases: tuple[type, ...], owner: "Registries | None" = None):
        self.role = role
        self._modules: dict[str, type] = {}  # name -> the class answering to it now
        self.bases = bases
        self.owner = owner
        self._origins: dict[str, str] = {}
        self._by_plugin: dict[str, dict[str, type]] = {}

    def __len__(self) -> int:
        return len(self._modules)

    # -- registration -------------------------------------------------------
    def register_module(self, name: str | list[str] | None = None, force: bool = False, module: type | None = None) -> Any:
        """Register `module` under its class name (or `name`, or each of several names).

        As a call, `registry.register_module(module=cls)`, it returns `cls`; without `module` it is
        a decorator, `@registry.register_module()`. `force=True` replaces a component another
        plugin registered under the same name (logged). The class must subclass the role's base
        and implement its abstract methods; the plugin being loaded is recorded as its origin.
        """
        if module is not None:
            self._register(module, name, force)
            return module

        def decorate(cls: type) -> type:
            self._register(cls, name, force)
            return cls

        return decorate

    def _register(self, module: type, module_name: str | list[str] | tuple[str, ...] | None = None, force: bool = False) -> None:
        plugin = _CURRENT_PLUGIN.get()
        if not isinstance(module, type) or not issubclass(module, self.bases):
            expected = " or ".join(b.__name__ for b in self.bases)
            raise RegistryError(
                f"cannot register {_qualname(module)} in '{self.role}': it must subclass {expected}",
                where=f"plugin '{plugin}'",
                hint=f"derive it from videollm_core.{self.bases[0].__name__}",
            )
        missing = sorted(getattr(module, "__abstractmethods__", ()))
        if missing:  # the base class declares them abstract: the class could never be built
            base = next(b for b in self.bases if issubclass(module, b))
            raise RegistryError(
                f"cannot register {_qualname(module)} in '{self.role}': it does not implement {', '.join(missing)}"
                f" (abstract in videollm_core.{base.__name__})", where=f"plugin '{plugin}'",
                hint=f"define {', '.join(f'{module.__name__}.{m}' for m in missing)} (see docs/writing-plugins.md)")
        names = [module.__name__] if module_name is None else [module_name] if isinstance(module_name, str) else list(module_name)
        for name in names:
            if ":" in name or not name:
                raise RegistryError(f"invalid {self.role} name {name!r} (empty or containing ':')", where=f"plugin '{plugin}'")
            if name in self._modules:
                first = self._modules[name]
                origin = self._origins.get(name, "?")
                if not force:
                    raise RegistryError(
                        f"{self.role} name '{name}' is already registered by plugin '{origin}' ({_qualname(first)});"
                        f" plugin '{plugin}' tried to register {_qualname(module)}",
                        where=f"plugin '{plugin}'",
                        hint="choose another name, or pass force=True to replace the first one",
                    )
                log.warning(
                    "plugin '%s' replaced %s '%s' of plugin '%s' (%s -> %s, force=True)",
                    plugin, self.role, name, origin, _qualname(first), _qualname(module),
                )
            self._modules[name] = module
            self._origins[name] = plugin
            self._by_plugin.setdefault(plugin, {})[name] = module

    def snapshot(self) -> tuple[dict[str, type], dict[str, str], dict[str, dict[str, type]]]:
        """The registry's state (components, origins, components per plugin), for `restore`."""
        return dict(self._modules), dict(self._origins), {k: dict(v) for k, v in self._by_plugin.items()}

    def restore(self, state: tuple[dict[str, type], dict[str, str], dict[str, dict[str, type]]] | None = None) -> None:
        """Put back a `snapshot` (`None`: empty the registry)."""
        modules, origins, by_plugin = state if state is not None else ({}, {}, {})
        self._modules.clear()
        self._modules.update(modules)
        self._origins = dict(origins)
        self._by_plugin = {k: dict(v) for k, v in by_plugin.items()}

    def unregister_plugin(self, plugin: str) -> list[str]:
        """Remove everything `plugin` registered (used to roll back a failed plugin)."""
        removed = []
        for name, cls in self._by_plugin.pop(plugin, {}).items():
            if self._modules.get(name) is cls and self._origins.get(name) == plugin:
                del self._modules[name]
                del self._origins[name]
                # a component this plugin had overridden comes back
                for other, comps in self._by_plugin.items():
                    if name in comps:
                        self._modules[name] = comps[name]
                        self._origins[name] = other
                removed.append(name)
        return removed

    # -- lookup -------------------------------------------------------------
    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._modules)

    def origin(self, name: str) -> str:
        """The plugin that registered the component now answering to `name`."""
        return self._origins.get(name, "?")

    def registered_by(self, plugin: str) -> list[str]:
        return sorted(self._by_plugin.get(plugin, {}))

    def _ensure_loaded(self) -> None:
        if self.owner is not None:
            self.owner.ensure_loaded()

    def get(self, key: object) -> type[_C] | None:
        """The class for `NAME` or `PLUGIN:NAME`; `None` when unknown (never imports)."""
        self._ensure_loaded()
        if not isinstance(key, str):
            return None
        if ":" in key:
            plugin, _, name = key.partition(":")
            return self._by_plugin.get(plugin, {}).get(name)
        return self._modules.get(key)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def lookup(self, key: Any, where: str = "") -> type[_C]:
        """Like [`get`][videollm_core.registry.ComponentRegistry.get] but raises a [`ConfigError`][videollm_core.errors.ConfigError] that helps: the YAML path,
        the three closest names, and plugins that are blocked or failed to load."""
        where = where or f"{self.role}.type"
        if not isinstance(key, str) or not key:
            raise ConfigError(f"'type' must be a non-empty string naming a registered {self.role} component, got {key!r}", where=where)
        cls = self.get(key)
        if cls is not None:
            return cls
        plugin, sep, name = key.rpartition(":")
        status = self.owner.plugin_problems() if self.owner is not None else {}
        if sep and plugin in status:
            raise ConfigError(f"unknown {self.role} '{key}': plugin '{plugin}' is {status[plugin]}", where=where,
                              hint=f"unblock or fix plugin '{plugin}' (see `videollm plugins`)")
        if sep and plugin not in self._by_plugin:
            known = sorted(self._by_plugin)
            raise ConfigError(f"unknown {self.role} '{key}': no plugin '{plugin}' registered any {self.role}", where=where,
                              hint=f"plugins with {self.role}: {', '.join(known) or '(none)'}")
        pool = sorted(self._by_plugin.get(plugin, {})) if sep else sorted(self._modules)
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.5)
        lowered = {p.lower(): p for p in pool}
        if name.lower() in lowered and lowered[name.lower()] not in close:
            close.insert(0, lowered[name.lower()])
        hint = f"did you mean {', '.join(repr(c) for c in close[:3])}?" if close else f"registered {self.role}: {', '.join(pool) or '(none)'}"
        if status:
            hint += "; plugins not loaded: " + "; ".join(f"{p} ({s})" for p, s in sorted(status.items()))
        if "." in name and not close:
            hint += "; a 'type' is a registered name, never an import path"
        raise ConfigError(f"unknown {self.role} '{key}'", where=where, hint=hint)

    def validate(self, cfg: dict[str, Any], where: str, supplied: set[str] | frozenset[str] = frozenset()) -> list[ConfigError]:
        """Every problem with a component config (unknown type, bad arguments), without building."""
        if not isinstance(cfg, dict):
            return [ConfigError(f"expected a mapping with a 'type' key, got {type(cfg).__name__}", where=where)]
        if "type" not in cfg:
            return [ConfigError(f"missing 'type' (a registered {self.role} name)", where=where,
                                hint=f"registered {self.role}: {', '.join(self.names()) or '(none)'}")]
        try:
            cls = self.lookup(cfg["type"], where=f"{where}.type")
        except ConfigError as e:
            return [e]
        args = {k: v for k, v in cfg.items() if k != "type"}
        return check_arguments(cls, args, where=where, supplied=supplied)

    def build(self, cfg: dict[str, Any], *, where: str = "", default_args: dict[str, Any] | None = None, **extra: Any) -> Any:
        """Build a component from `{type: NAME, **kwargs}`.

        `default_args` fill parameters the config leaves out, and reach only
        constructors that accept them (a head without `num_classes` never gets one). Bad arguments raise a
        [`ConfigError`][videollm_core.errors.ConfigError] naming `where`. Whatever the constructor raises is reported at `where`
        too, its own message kept: a [`UserError`][videollm_core.errors.UserError] naming `ClassName.arg` gets the YAML path
        `where.arg`; any other exception (a size torch refuses...) becomes a [`ConfigError`][videollm_core.errors.ConfigError],
        except the programming errors of `_PROGRAMMING_ERRORS`, which keep their traceback.
        """
        if extra:
            default_args = {**(default_args or {}), **extra}
        where = where or self.role
        errors = self.validate(cfg, where, supplied=set(default_args or {}))
        if errors:
            raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
        cls = self.lookup(cfg["type"], where=f"{where}.type")
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        accepted = constructor_parameters(cls)
        open_kwargs = accepts_var_kwargs(cls)
        for key, value in (default_args or {}).items():
            if key in accepted or open_kwargs:  # defaults reach only constructors that take them
                kwargs.setdefault(key, value)
        prefix, _, name = cfg["type"].rpartition(":")
        plugin = prefix or self.origin(name)  # the plugin the built class comes from, for messages
        try:
            with supplying(default_args or {}, plugin, self.owner):
                return cls(**kwargs)
        except UserError as e:  # the constructor's own message; its place made a YAML path
            raise e.relocate(_yaml_place(e.where, cls.__name__, where))
        except AttributeError as e:
            if not _skipped_module_init(e):
                raise  # a bug in the component, not in the config: keep the traceback
            needs = ", ".join(n for n in ("in_dim", "out_dim") if n in (default_args or {}))
            raise PluginError(f"{cls.__name__} (plugin '{plugin}', module {cls.__module__}) sets a "
                              f"sub-module before calling the base class constructor ({e})", where=where,
                              hint=f"call super().__init__({needs}) first in {cls.__name__}.__init__") from e
        except _PROGRAMMING_ERRORS:
            raise  # a bug in the component, not in the config: keep the traceback
        except Exception as e:  # bad sizes reach torch/transformers: ValueError, RuntimeError, ZeroDivisionError...
            kind = "" if isinstance(e, (ValueError, TypeError, KeyError, OSError)) else f"{type(e).__name__}: "
            raise ConfigError(f"{cls.__name__}: {kind}{e}", where=where,
                              hint=f"check the arguments under {where} (--debug shows the traceback)") from e


class Registries:
    """The registries, one per role, handed to every plugin's `videollm_register` hook.

    Attributes `encoders`, `translators`, `llms`, `tuners`, `heads`,
    `datasets`, `metrics`, `features`, `executors` are [`ComponentRegistry`][videollm_core.registry.ComponentRegistry] objects.
    """

    def __init__(self) -> None:
        self._loader: Callable[[], None] | None = None
        self._problems: Callable[[], dict[str, str]] | None = None
        self._config_keys: dict[str, dict[str, dict[str, Any]]] = {}  # plugin -> section -> key -> Rule
        for role in ROLES:
            setattr(self, role, ComponentRegistry(role, ROLE_BASES[role], owner=self))

    encoders: ComponentRegistry[Encoder | TextEncoder]
    translators: ComponentRegistry[Translator]
    llms: ComponentRegistry[LLMAdapter]
    tuners: ComponentRegistry[Tuner]
    heads: ComponentRegistry[TaskHead]
    datasets: ComponentRegistry[VideoDataset]
    metrics: ComponentRegistry[Metric]
    features: ComponentRegistry[FeatureSource]
    executors: ComponentRegistry[Executor]

    def __getitem__(self, role: str) -> ComponentRegistry[Any]:
        if role not in ROLES:
            raise KeyError(role)
        return getattr(self, role)

    def __iter__(self) -> Iterator[ComponentRegistry[Any]]:
        return (getattr(self, r) for r in ROLES)

    def attach(self, loader: Callable[[], None], problems: Callable[[], dict[str, str]]) -> None:
        """Connect the plugin manager: `loader` loads plugins on first lookup."""
        self._loader = loader
        self._problems = problems

    def ensure_loaded(self) -> None:
        """Load the plugins of the attached manager (once; a lookup calls it)."""
        if self._loader is not None:
            self._loader()

    def plugin_problems(self) -> dict[str, str]:
        """`{plugin: "blocked (-p no:NAME)" or "failed: reason"}`."""
        return self._problems() if self._problems is not None else {}

    def unregister_plugin(self, plugin: str) -> None:
        """Remove what `plugin` registered in every role (a component it had overridden comes back)."""
        for reg in self:
            reg.unregister_plugin(plugin)
        self._config_keys.pop(plugin, None)

    # -- config keys of plugins (the videollm_config_keys hook) ---------------------------------
    def add_config_keys(self, plugin: str, keys: Any) -> None:
        """Record the `{"train": {KEY: Rule}, "top": {SECTION: Rule}}` that `plugin` declares."""
        from .rules import Rule

        if not isinstance(keys, dict) or set(keys) - {"train", "top"}:
            raise RegistryError(f"videollm_config_keys must return {{'train': {{KEY: Rule}}, 'top': {{SECTION: Rule}}}}, got {keys!r}",
                                where=f"plugin '{plugin}'")
        for section, rules in keys.items():
            for key, rule in dict(rules).items():
                if not isinstance(rule, Rule):
                    raise RegistryError(f"config key {section}.{key} needs a videollm_core.rules.Rule, got {rule!r}", where=f"plugin '{plugin}'")
                owner = next((p for p, own in self._config_keys.items() if key in own.get(section, {})), None)
                if owner is not None and owner != plugin:
                    raise RegistryError(f"config key '{key}' of '{section}' is already declared by plugin '{owner}'", where=f"plugin '{plugin}'",
                                        hint="choose another key")
        self._config_keys[plugin] = {section: dict(rules) for section, rules in keys.items()}

    @property
    def config_keys(self) -> dict[str, dict[str, Any]]:
        """`{"train": {KEY: Rule}, "top": {SECTION: Rule}}` of every loaded plugin."""
        self.ensure_loaded()
        return {section: {key: rule for own in self._config_keys.values() for key, rule in own.get(section, {}).items()}
                for section in ("train", "top")}

    def snapshot(self) -> dict[str, Any]:
        """Every role's state and the attached manager, for [`restore`][videollm_core.registry.Registries.restore]."""
        return {"roles": {reg.role: reg.snapshot() for reg in self}, "attached": (self._loader, self._problems),
                "config_keys": dict(self._config_keys)}

    def restore(self, state: dict[str, Any] | None = None) -> None:
        """Put back a [`snapshot`][videollm_core.registry.Registries.snapshot]; `None` empties every role and detaches the manager."""
        for reg in self:
            reg.restore(state["roles"][reg.role] if state is not None else None)
        self._loader, self._problems = state["attached"] if state is not None else (None, None)
        self._config_keys = dict(state.get("config_keys", {})) if state is not None else {}

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        return {reg.role: reg.registered_by(plugin) for reg in self if reg.registered_by(plugin)}
