"""Request bodies read the way moby reads them: Go's ``encoding/json`` into typed models.

Every body of the Engine API is decoded into one ``msgspec.Struct`` of this package, so
handlers receive typed values and a wrong shape is a 400 before any handler runs. The
decoder keeps Go's rules, which docker's clients rely on:

    a field name     matches exactly or, failing that, case-insensitively (docker-py sends
                     ``detachKeys`` where the API documents ``DetachKeys``)
    ``null``         is the field's zero value (Go leaves the field as it was)
    an unknown name  is ignored, as Go ignores it: clients newer than API 1.45 send fields
                     this version does not know (docker CLI 28's ``GwPriority``), and the
                     top-level ``Runtime`` some clients send is not a create field at all
    a wrong type     is an error (``"Memory": "1g"``), as is an integer outside int64

What berth does not implement is a separate question, answered where a model is turned
into an engine value: ``set_fields`` lists the fields a request set to something other
than their zero value, so the caller can refuse what it does not honour.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Annotated, Any, TypeVar

import msgspec
import msgspec.inspect as mi

from berth.errors import InvalidArgument

# Go's int64 and the unsigned sizes docker uses: a bigger number is a decode error in moby.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

T = TypeVar("T", bound=msgspec.Struct)

_Normalizer = Callable[[Any], Any]


def decode(body: bytes, model: type[T]) -> T:
    """``body`` (JSON; empty means ``{}``) as ``model``, or ``InvalidArgument``."""
    if not body.strip():
        return model()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise InvalidArgument(f"invalid JSON: {err}") from None
    return convert(data, model)


def convert(data: Any, model: type[T]) -> T:
    """An already parsed JSON value as ``model``, with Go's decoding rules."""
    if data is None:
        return model()
    try:
        return msgspec.convert(_normalizer(model)(data), model, strict=True)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"invalid JSON: {_go_words(str(err))}") from None
    except RecursionError:
        raise InvalidArgument("invalid JSON: nested too deeply") from None


def _go_words(message: str) -> str:
    """msgspec's ``Expected `int`, got `str` - at `$.HostConfig.Memory``` in docker's
    vocabulary: the field path without the ``$`` root."""
    return message.replace("`$.", "`").replace("`$`", "the body").replace("`$[", "`[")


@cache
def _normalizer(tp: Any) -> _Normalizer:
    return _build(mi.type_info(tp))


def _build(info: mi.Type) -> _Normalizer:
    if isinstance(info, mi.StructType):
        return _struct_normalizer(info)
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        item = _build(info.item_type)
        return lambda v: [item(x) for x in v] if isinstance(v, list) else v
    if isinstance(info, mi.DictType):
        value = _build(info.value_type)
        return lambda v: {k: value(x) for k, x in v.items()} if isinstance(v, dict) else v
    if isinstance(info, mi.UnionType):
        structs = [_build(t) for t in info.types if isinstance(t, mi.StructType)]
        lists = [_build(t) for t in info.types if isinstance(t, mi.ListType)]
        dicts = [_build(t) for t in info.types if isinstance(t, mi.DictType)]

        def union(v: Any) -> Any:
            if isinstance(v, dict) and (structs or dicts):
                return (structs or dicts)[0](v)
            if isinstance(v, list) and lists:
                return lists[0](v)
            return v
        return union
    return _identity


def _identity(value: Any) -> Any:
    return value


def _struct_normalizer(info: mi.StructType) -> _Normalizer:
    exact = {f.encode_name: f for f in info.fields}
    folded = {f.encode_name.lower(): f for f in info.fields}
    # Built lazily: a struct may contain itself (not today, but cheap to allow).
    children: dict[str, _Normalizer] = {}

    def child(name: str, field: mi.Field) -> _Normalizer:
        if name not in children:
            children[name] = _build(field.type)
        return children[name]

    def normalize(value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # msgspec reports the wrong type
        out: dict[str, Any] = {}
        for key, item in value.items():
            field = exact.get(key) or folded.get(key.lower())
            if field is None or item is None:
                continue  # unknown: ignored; null: the zero value
            if field.encode_name in out and key != field.encode_name:
                continue  # an exact match wins over a case-folded one
            out[field.encode_name] = child(field.encode_name, field)(item)
        return out
    return normalize


def is_zero(value: Any) -> bool:
    """Go's zero value: what ``omitempty`` leaves out, and what "not set" means."""
    if value is None or value is False or value == 0 or value == "":
        return True
    if isinstance(value, list | tuple | dict):
        return len(value) == 0
    if isinstance(value, msgspec.Struct):
        return all(is_zero(v) for _, v in _items(value))
    return False


def _items(value: msgspec.Struct) -> Iterator[tuple[str, Any]]:
    for encoded, name in _names(type(value)):
        yield encoded, getattr(value, name)


@cache
def _names(model: type[msgspec.Struct]) -> tuple[tuple[str, str], ...]:
    """(wire name, attribute) of each field: msgspec.structs.fields evaluates the
    annotations at every call, far too slow for every request."""
    return tuple(zip(model.__struct_encode_fields__, model.__struct_fields__, strict=True))


def unsupported(value: msgspec.Struct, honoured: frozenset[str] = frozenset(),
                defaults: Mapping[str, tuple[object, ...]] | None = None, prefix: str = ""
                ) -> str | None:
    """The path of the first field of ``value`` that is set, not ``honoured``, and not
    one of the values ``defaults`` lists for it (what a handler refuses by name)."""
    for path, item in set_fields(value, prefix):
        name = path[len(prefix):]
        if name not in honoured and item not in (defaults or {}).get(name, ()):
            return path
    return None


def set_fields(value: msgspec.Struct, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of each field of ``value`` that is not its zero value, with
    dotted paths from ``prefix`` (``HostConfig.PortBindings``)."""
    for name, item in _items(value):
        if not is_zero(item):
            yield f"{prefix}{name}", item


_FALSE = ("", "0", "no", "false", "none")  # moby's httputils.BoolValue


def from_query(query: Mapping[str, str], repeated: Mapping[str, list[str]],
               model: type[T]) -> T:
    """Query parameters as ``model``, read as moby reads them: a bool is false only for
    "", 0, no, false, none; an int is decimal; a name in ``repeated`` is a list of every
    value given (``t=a&t=b``); any other list or map is JSON in one parameter
    (``buildargs={...}``, ``cachefrom=[...]``).
    A parameter that is absent keeps the field's default."""
    data: dict[str, Any] = {}
    for field in _query_fields(model):
        name = field.encode_name
        if name not in query:
            continue
        raw = query[name]
        kind = _optional(field.type)
        try:
            if isinstance(kind, mi.BoolType):
                data[name] = raw.strip().lower() not in _FALSE
            elif isinstance(kind, mi.IntType):
                data[name] = int(raw) if raw.strip() else 0
            elif name in repeated:
                data[name] = [v for v in repeated[name] if v]
            elif isinstance(kind, mi.ListType | mi.DictType):
                data[name] = json.loads(raw) if raw.strip() else None
            else:
                data[name] = raw
        except ValueError:
            raise InvalidArgument(f"invalid value for {name}: {raw!r}") from None
    return convert(data, model)


@cache
def _query_fields(model: type[msgspec.Struct]) -> tuple[mi.Field, ...]:
    info = mi.type_info(model)  # evaluates the annotations: once per model
    assert isinstance(info, mi.StructType)
    return info.fields


def _optional(info: mi.Type) -> mi.Type:
    """``X | None`` → ``X``."""
    if isinstance(info, mi.UnionType):
        rest = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(rest) == 1:
            return rest[0]
    return info
