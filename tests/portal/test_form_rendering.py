"""The portal's form renderer writes selects of text in Python: the markup must be Django's own, byte for byte
(and anything the templates would localise is left to them)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from audit.forms import AsOfForm, TimelineForm
from deployments.forms import NewDeploymentForm
from deployments.models import Environment, Project
from portal import rendering
from portal.models import Team
from portal.rendering import FormRenderer

DJANGO = DjangoTemplates()


def both(widget: forms.Widget, name: str, value, attrs=None) -> tuple[str, str]:
    return widget.render(name, value, attrs, renderer=FormRenderer()), widget.render(name, value, attrs, DJANGO)


HOSTILE = [
    ("", "Any"),
    ("a&b", 'Tom & "Jerry" <script>'),
    ("it's", mark_safe("<b>safe</b> label")),
    (3, 3),
    (None, "none"),
    ("x" * 300, "long"),
    ("ünï", "ünïcode ✓"),
]


@pytest.mark.parametrize(
    "widget,value,attrs",
    [
        (forms.Select(choices=HOSTILE), "a&b", None),
        (forms.Select(choices=HOSTILE), 3, {"id": "id_x", "required": True, "disabled": False}),
        (forms.Select(choices=HOSTILE), None, {"data-none": None, "class": 'a"b', "hx-get": "/x?a=1&b=2"}),
        (forms.Select(choices=[]), "", None),
        (forms.Select(choices=[("Group <1>", [("1", "one"), ("2", "two")]), ("3", "three")]), "2", {"id": "g"}),
        (forms.Select(attrs={"class": "wide", "aria-describedby": "h e"}, choices=HOSTILE), "it's", None),
        (forms.SelectMultiple(choices=HOSTILE), ["a&b", "3"], {"id": "m"}),
        (forms.NullBooleanSelect(), True, None),
    ],
)
def test_a_select_is_written_as_djangos_templates_write_it(widget, value, attrs):
    quick, django = both(widget, "field<&>", value, attrs)
    assert quick == django


def test_the_renderer_writes_a_select_of_text_itself(monkeypatch):
    """Not a test of equality with itself: the quick path is the one taken for text labels."""
    calls = []
    original = rendering.select_html
    monkeypatch.setattr(rendering, "select_html", lambda *args: calls.append(args) or original(*args))
    forms.Select(choices=[("a", "A"), ("b", gettext_lazy("B"))]).render("f", "", renderer=FormRenderer())
    assert len(calls) == 1
    forms.Select(choices=[("a", 1.5)]).render("f", "", renderer=FormRenderer())
    assert len(calls) == 1  # a number is the templates' to localise


@pytest.mark.parametrize(
    "choices",
    [
        [("d", date(2026, 5, 1)), ("n", Decimal("1E+3")), ("f", 1.5)],
        [(1.5, [("a", "A")]), ("b", "B")],
    ],
)
def test_labels_the_templates_would_localise_are_left_to_them(choices, settings):
    settings.USE_THOUSAND_SEPARATOR = True
    with translation.override("de"):
        quick, django = both(forms.Select(choices=choices), "f", "d")
    assert quick == django


def test_options_given_by_a_generator_are_all_written():
    class Generated(forms.Select):
        def optgroups(self, name, value, attrs=None):
            yield from super().optgroups(name, value, attrs)

    quick, django = both(Generated(choices=[("a", "A"), ("b", "B")]), "f", "b")
    assert quick == django
    assert quick.count("<option") == 2


def test_a_widget_with_its_own_option_template_is_left_to_the_templates():
    class Radioish(forms.Select):
        option_template_name = "django/forms/widgets/input_option.html"

    quick, django = both(Radioish(choices=[("a", "A")]), "f", "a")
    assert quick == django
    assert "<input" in quick


@pytest.mark.django_db
def test_whole_filter_and_model_choice_forms_are_unchanged():
    team = Team.objects.create(slug="t-<1>", name='Team "one" & co')
    for n in range(12):
        project = Project.objects.create(slug=f"p-{n}", name=f"P <{n}>", team=team)
        Environment.objects.create(project=project, slug="dev", name="dev", tier="prototype")
    data = {"project": "p-3", "team": "t-<1>", "start": "yesterday", "event_type": "nope"}
    for form_class in (TimelineForm, AsOfForm):
        quick, django = form_class(data), form_class(data)
        django.renderer = DJANGO
        assert str(quick) == str(django)
        assert "p-11" in str(quick)
    environments = Environment.objects.all()
    quick = NewDeploymentForm(environments=environments, data={"environment": str(environments[3].pk)})
    django = NewDeploymentForm(environments=environments, data={"environment": str(environments[3].pk)})
    django.renderer = DJANGO
    assert str(quick["environment"]) == str(django["environment"])
    assert "selected" in str(quick["environment"])
