"""Term semantics: words, whole-word matches, prefixes, phrases (transforms/terms.py)."""

import pytest
from papertrends.transforms.terms import TermError, parse_term, search_text, words


def test_words_are_runs_of_letters_and_digits_case_folded():
    assert words("Test-Time Scaling of GPT-4o, 50\\% μLO τ-bench") == [
        "test", "time", "scaling", "of", "gpt", "4o", "50", "μlo", "τ", "bench",
    ]


def test_words_fold_case_beyond_lowercasing():
    assert words("STRASSE Straße") == ["strasse", "strasse"]


def test_underscore_separates_words():
    assert words("snake_case") == ["snake", "case"]


def test_empty_and_null_text_have_no_words():
    assert words("") == [] and words(None) == [] and words("-- !!") == []


@pytest.mark.parametrize(
    ("term", "title", "abstract", "expected"),
    [
        ("tractable", "Tractable Models", None, True),
        ("tractable", "Intractable Models", None, False),
        ("tractable", "On tractability", None, False),
        ("tractab*", "On tractability", None, True),
        ("tractab*", "Intractable", None, False),
        ("Tractable", "", "a TRACTABLE model.", True),
        ("inference-time scaling", "Inference time scaling laws", None, True),
        ("inference time scaling", "Inference-Time Scaling", None, True),
        ("inference time scaling", "Inference time and scaling", None, False),
        ("inference time scal*", "inference-time scalability", None, True),
        ("scaling laws", "On scaling", "laws of physics", False),  # no phrase across title and abstract
        ("scaling", "On scaling", "laws", True),
        ("4o", "GPT-4o is here", None, True),
    ],
)
def test_term_matching(term, title, abstract, expected):
    assert parse_term(term).matches(title, abstract) is expected


def test_phrase_spellings_are_the_same_query():
    assert parse_term("inference-time scaling").needle == parse_term("Inference  time scaling").needle


def test_needles_are_space_delimited():
    assert parse_term("tractable").needle == " tractable "
    assert parse_term("tractab*").needle == " tractab"


def test_search_text_separates_title_from_abstract():
    assert search_text("Scaling Laws", "We study x.") == " scaling laws | we study x "


@pytest.mark.parametrize("bad", ["", "   ", "***", "--"])
def test_terms_without_words_are_refused(bad):
    with pytest.raises(TermError, match="no letters or digits"):
        parse_term(bad)


def test_a_detached_star_is_refused():
    with pytest.raises(TermError, match="must directly follow"):
        parse_term("scaling *")
