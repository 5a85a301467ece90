"""The README's "Using from Django" section quotes tested code only: each ```python block in it
must be, verbatim, a snippet marked in the test project's sources with

    # README snippet: <name>
    ...
    # README snippet end

(compared after removing the snippet's common indentation)."""
import re
import textwrap
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[4]
PROJECT = ROOT / 'test' / 'django'
HEADING = '## Using from Django'
MAX_LINES = 120  # two paths (cluster_agg and the stored hierarchy) in a few lines each

SNIPPET = re.compile(r'^[ \t]*# README snippet: ([\w-]+)[ \t]*\n(.*?)^[ \t]*# README snippet end[ \t]*$', re.M | re.S)
PYTHON_BLOCK = re.compile(r'^```python\n(.*?)^```[ \t]*$', re.M | re.S)


def readme_section():
    """(path, text) of the section in README.md; (None, None) if it has none."""
    for path in (ROOT / 'README.md',):
        if path.exists():
            text = path.read_text()
            start = text.find(HEADING + '\n')
            if start >= 0:
                end = text.find('\n## ', start + len(HEADING))
                return path, text[start:] if end < 0 else text[start:end + 1]
    return None, None


def marked_snippets():
    snippets = {}
    for path in sorted(PROJECT.rglob('*.py')):
        for name, body in SNIPPET.findall(path.read_text()):
            snippets.setdefault(name, []).append((path.relative_to(ROOT), textwrap.dedent(body).rstrip()))
    return snippets


class ReadmeTests(SimpleTestCase):

    def section(self):
        path, text = readme_section()
        if text is None:
            self.fail(f'README.md has no "{HEADING}" section')
        return path, text

    def test_every_python_block_is_a_tested_snippet(self):
        path, text = self.section()
        blocks = [b.rstrip() for b in PYTHON_BLOCK.findall(text)]
        self.assertGreater(len(blocks), 0, f'{path}: no python block in "{HEADING}"')
        snippets = {body: name for name, entries in marked_snippets().items() for _, body in entries}
        for block in blocks:
            with self.subTest(block=block.splitlines()[0]):
                self.assertTrue(block in snippets,
                                f'{path}, "{HEADING}": this python block is not, verbatim, a snippet marked '
                                f'"# README snippet: <name>" in {PROJECT.relative_to(ROOT)}:\n{block}')

    def test_snippet_names_are_unique(self):
        for name, entries in marked_snippets().items():
            self.assertEqual(len(entries), 1, f'snippet {name!r} is marked in {[str(p) for p, _ in entries]}')

    def test_section_is_short_and_names_real_files(self):
        path, text = self.section()
        self.assertLessEqual(len(text.rstrip().splitlines()), MAX_LINES, f'{path}: "{HEADING}" is too long')
        for name in set(re.findall(r'`((?:test/django|python)/[\w./]+)`', text)):
            self.assertTrue((ROOT / name).exists(), f'{path} names {name}, which does not exist')
