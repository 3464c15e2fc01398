"""Which network a RUN container joins: ``RUN --network`` over ``docker build --network``
over the default bridge, with the build's ``--add-host``s; the query's repeated
``extrahosts``."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from berth.api.types.build import BuildQuery
from berth.api.types.decode import from_query
from berth.engine.builder.options import BuildOptions, StepNetwork
from berth.errors import InvalidArgument


@pytest.mark.parametrize(("build", "flag", "mode"), [
    ("", None, "default"), ("default", None, "default"), ("default", "default", "default"),
    ("host", None, "host"), ("host", "default", "host"), ("host", "none", "none"),
    ("none", "host", "host"), ("", "none", "none"), ("appnet", None, "appnet"),
    ("bridge", "", "bridge"),
])
def test_step_network(build: str, flag: str | None, mode: str) -> None:
    options = BuildOptions(network_mode=build, extra_hosts=("a:1.2.3.4",))
    assert options.step_network(flag) == StepNetwork(mode, ("a:1.2.3.4",))


def test_a_container_network_mode_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        BuildOptions(network_mode="container:abc")


def test_extrahosts_are_repeated_query_parameters() -> None:
    query = MultiDict([("extrahosts", "a:1.2.3.4"), ("extrahosts", "b:host-gateway"),
                       ("networkmode", "host")])
    q = from_query(query, {"extrahosts": query.getall("extrahosts", [])}, BuildQuery)
    assert q.extrahosts == ["a:1.2.3.4", "b:host-gateway"] and q.networkmode == "host"
