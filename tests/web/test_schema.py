"""Schema-driven fuzzing of the whole API with schemathesis: no input produces a 5xx, and every
response conforms to the OpenAPI document."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from cartridge.games import get_game
from cartridge.modelstore import open_model_store
from cartridge_trainer.network import PolicyValueNet, export_onnx
from cartridge_web.app import create_app
from tests.web.conftest import web_settings

_root = Path(tempfile.mkdtemp(prefix="cartridge-schemathesis-"))
_settings = web_settings(_root, WEB_SIMS="8")
_game = get_game("tictactoe")
open_model_store(_settings.model_store_url).publish("tictactoe", export_onnx(PolicyValueNet(_game), _game))
app = create_app(_settings)
app.state.poll_models()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_produces_a_server_error_or_an_off_schema_response(case):
    case.call_and_validate()
