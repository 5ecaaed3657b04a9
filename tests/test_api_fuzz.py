"""The drawing page's API fuzzed from its own OpenAPI schema with schemathesis, every check on, bounded.

schemathesis reads ``/openapi.json``, generates requests that the schema allows (and, for the negative checks,
requests it forbids), sends them to the app in this process (ASGI, no network) and checks each response: never a
5xx, the status code, content type, headers and body as the schema says, every request the schema allows
accepted and every request it forbids refused. The schema must therefore say exactly what the server accepts.

Two checks are restated here rather than dropped: a JSON schema cannot say "a string that decodes to a PNG" or "a
drawing with some ink", so a request the schema allows may still be refused with 422 for exactly those reasons and
no other; and a request the schema forbids may be refused with 413 instead of 422 when it is also over the size
limit (schemathesis's own negative check knows only 4xx codes other than 413).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.generation import GenerationMode

from digitnet.io import save_model
from digitnet.network import Network
from digitnet.web import serve


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    save_model(Network([784, 16, 10], seed=0), folder / "model.safetensors")  # any 28x28 -> 10 model will do
    app = serve.create_app(folder / "model.safetensors", folder / "corrections.csv")
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_response_keeps_to_the_schema(case):
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance, negative_data_rejection])
    if case.method.upper() != "POST" or case.operation.method.upper() != "POST":
        return  # the GET operation, or a request sent with another method on purpose (405, checked above)
    forbidden = case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
    if forbidden:  # a request the schema forbids is refused: 422, or 413 when it is also over the size limit
        assert response.status_code in (413, 422), response.text
    elif response.status_code != 200:  # one the schema allows is accepted, unless it breaks what no schema can say
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert any(reason in detail for reason in BEYOND_THE_SCHEMA), detail


BEYOND_THE_SCHEMA = (
    "the drawing is blank",  # a PNG or pixels without any ink
    "png is not valid base64",
    "the image is not a PNG",
    "the PNG is damaged",
    "the PNG is",  # wider or taller than the largest side: a limit on the decoded image, not on the string
    "png starts with",  # a comma, but not after data:image/png;base64
)
