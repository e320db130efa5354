"""With DEBUG on (as `make run` starts it), a page that is not there is still Slipway's 404 page, not Django's
technical page listing every URL pattern (issue 19)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/deploymnets/", "/deployments/999999/", "/static/nothing-here.css"])
def test_with_debug_on_a_mistyped_address_gets_slipways_404_page(dev_client, settings, path):
    settings.DEBUG = True
    response = dev_client.get(path)
    assert response.status_code == 404
    page = response.content.decode()
    assert "There is nothing here, or you cannot see it" in page
    assert "URLconf" not in page and "Django tried these URL patterns" not in page


def test_with_debug_on_a_missing_slash_is_still_added(dev_client, settings):
    settings.DEBUG = True
    response = dev_client.get("/deployments")
    assert response.status_code == 301 and response["Location"] == "/deployments/"
