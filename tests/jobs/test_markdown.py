"""Instructions render in bounded time. Text a renderer would choke on is refused with a message
that says what to change; anything the limits let through renders in a small multiple of a
normal document's time, and links render exactly as Python-Markdown renders them.

Times are ratios to a normal 20,000-character document rendered in the same test, best of three
on each side, so a busy machine slows both. Before the fix the audit's input took 60 times the
normal document (4.3 s against 0.07 s); the worst family below takes about 3 times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import markdown as md
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.errors import ApplicationError
from marketplace.jobs.markdown import instructions_check, instructions_render
from marketplace.jobs.markdown_links import LinearLinksExtension
from marketplace.limits import (
    MAX_INSTRUCTIONS_BLOCK_LINES,
    MAX_INSTRUCTIONS_CHARS,
    MAX_INSTRUCTIONS_FORMATTING,
    MAX_INSTRUCTIONS_LINES,
)

SECTION = (
    "## Which label?\n\n"
    "Look at the **whole** picture before you answer, and read the [guide](https://example.com/guide)"
    " if the animal is hard to see. A toy, a drawing or a statue counts as *none*.\n\n"
    "- Pick `cat` for any cat, big or small.\n- Pick `dog` for dogs and wolves.\n"
    "- Skip blurry pictures: ![blurry](https://example.com/blurry.png)\n\n"
    "| Label | Examples |\n| --- | --- |\n| cat | lion, tabby |\n| dog | wolf, puppy |\n\n"
)
NORMAL = (SECTION * (MAX_INSTRUCTIONS_CHARS // len(SECTION) + 1))[:MAX_INSTRUCTIONS_CHARS]
LONG = MAX_INSTRUCTIONS_CHARS


def fill(text: str) -> str:
    """`text`, then letters on its last line up to the character limit: every scan runs long."""
    return text + "a" * (LONG - len(text))


def block_after_block(unit: str) -> str:
    """`unit` lines in blocks as long as allowed, as many blocks as the line limit allows."""
    block = unit * (MAX_INSTRUCTIONS_BLOCK_LINES // unit.count("\n")) + "\n"
    return (block * (MAX_INSTRUCTIONS_LINES // MAX_INSTRUCTIONS_BLOCK_LINES))[:LONG]


# Text within every limit, each family built to make one part of the renderer work hardest.
WITHIN_LIMITS = {
    "the audit's unclosed images": "![" * 500 + "a" * 19_000,
    "unclosed links": "[" * 500 + "a" * 19_500,
    "unclosed links spread out": ("[" + "a" * 39) * 500,
    "links left open after the bracket": fill("[a](" * 500),
    "link titles never closed": fill("[a](x'" * 500),
    "parentheses nested deep in a link": "[a](" * 250 + "(" * 9_000 + ")" * 9_000,
    "brackets nested 500 deep": fill("[" * 500 + "]" * 500),
    "angle brackets never closed": fill("<" * 500),
    "rules, then one long line": "***\n" * (MAX_INSTRUCTIONS_BLOCK_LINES - 1) + "a" * 19_000,
    "headings, then one long line": "# a\n" * (MAX_INSTRUCTIONS_BLOCK_LINES - 1) + "a" * 19_000,
    "underlined headings in full blocks": block_after_block("a\n=\n"),
    "headings in full blocks": block_after_block("# a\n"),
    "list items in full blocks": block_after_block("- a\n"),
    "lists nested ten deep": block_after_block("".join("    " * level + "- a\n" for level in range(10))),
    "one-letter paragraphs": "a\n\n" * MAX_INSTRUCTIONS_LINES,
    "a table of a hundred columns": fill("a|" * 100 + "\n" + "-|" * 100 + "\n" + ("a|" * 100 + "\n") * 8),
    "emphasis": "*a* " * (MAX_INSTRUCTIONS_FORMATTING // 2),
    "code spans": "`a` " * (MAX_INSTRUCTIONS_FORMATTING // 2),
    "entities": "&amp;" * MAX_INSTRUCTIONS_FORMATTING,
}

# Text over a limit, and the words of the refusal that tell the client what to change.
OVER_LIMITS = {
    "emphasis delimiters never closed": ("*" * 20_000, "formatting characters"),
    "underscores between letters": ("a_" * 10_000, "formatting characters"),
    "backticks": ("`a " * 6_666, "formatting characters"),
    "backslashes": ("\\" * 20_000, "formatting characters"),
    "a long table": ("|a|b|\n|-|-|\n" + "|x|y|\n" * 3_300, "formatting characters"),
    "underlined headings": ("a\n=\n" * 5_000, "lines of text"),
    "one-letter paragraphs": ("a\n\n" * (MAX_INSTRUCTIONS_LINES + 1), "lines of text"),
    "rules in one block": ("- - -\n" * (MAX_INSTRUCTIONS_BLOCK_LINES + 1), "without a blank line"),
    "quotes in one block": ("> a\n" * (MAX_INSTRUCTIONS_BLOCK_LINES + 1), "without a blank line"),
    "blank lines hidden in line separators": (("a\n=\n" * 150 + "\u2028\u2028") * 2, "without a blank line"),
    "links": ("[a](b) " * 501, "'[' and '<'"),
}


def best_of_three(render: Callable[[str], Any], text: str) -> float:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        render(text)
        timings.append(time.perf_counter() - started)
    return min(timings)


def test_a_normal_document_keeps_its_links_images_and_tables() -> None:
    html = instructions_render(instructions_check(NORMAL))
    assert '<a href="https://example.com/guide" rel="noopener noreferrer nofollow">guide</a>' in html
    assert '<a href="https://example.com/blurry.png" rel="noopener noreferrer nofollow">Picture: blurry</a>' in html
    assert "<td>lion, tabby</td>" in html and "<strong>whole</strong>" in html


def test_raw_html_is_removed_and_no_picture_loads_when_a_worker_opens_the_task() -> None:
    html = instructions_render("<img src=x onerror=alert(1)> ![pic](https://evil.example/track.png) "
                               "<a href='http://x.test'>raw</a>\n\n<div>\n<b>bold</b> words\n</div>")
    assert "<img" not in html and "x.test" not in html and "<div" not in html and "<b>" not in html
    assert '<a href="https://evil.example/track.png" rel="noopener noreferrer nofollow">Picture: pic</a> raw' in html
    assert "bold words" in html


@pytest.mark.parametrize("family", sorted(WITHIN_LIMITS))
def test_text_within_the_limits_renders_in_a_few_times_a_normal_document(family: str) -> None:
    text = instructions_check(WITHIN_LIMITS[family][:LONG])
    normal = best_of_three(instructions_render, NORMAL)
    hostile = best_of_three(instructions_render, text)
    assert hostile < 8 * normal, f"{family}: {hostile:.3f} s against {normal:.3f} s for a normal document"


@pytest.mark.parametrize("family", sorted(OVER_LIMITS))
def test_text_over_the_limits_is_refused_saying_what_to_change(family: str) -> None:
    text, words = OVER_LIMITS[family]
    with pytest.raises(ApplicationError) as refused:
        instructions_check(text[:LONG])
    assert words in refused.value.message and "at most" in refused.value.message


@pytest.mark.django_db
def test_the_audits_input_is_saved_as_fast_as_a_normal_document(alice, client_for) -> None:  # type: ignore[no-untyped-def]
    api = client_for(alice)

    def create(instructions: str) -> Any:
        response = api.post("/api/v1/jobs/", {"title": "Animals", "labels": [{"key": "cat"}, {"key": "dog"}],
                                              "instructions": instructions}, format="json")
        assert response.status_code == 201, response.content[:300]
        return response

    normal = best_of_three(create, NORMAL)
    hostile = best_of_three(create, "![" * 500 + "a" * 19_000)
    assert hostile < 8 * normal, f"{hostile:.3f} s against {normal:.3f} s for a normal document"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["[", "]", "(", ")", "!", "'", '"', " ", "a", "\\", "`", "<", ">", "\n",
                                 "[1]", "](", "[a]", "(<u>)", ' "t")', "\n\n"]), max_size=40).map("".join))
def test_links_render_exactly_as_python_markdown_renders_them(text: str) -> None:
    text = "[1]: http://example.com 'T'\n\n" + text
    plain = md.markdown(text, extensions=["tables", "fenced_code"])
    assert md.markdown(text, extensions=["tables", "fenced_code", LinearLinksExtension()]) == plain
