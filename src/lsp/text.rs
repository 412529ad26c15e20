//! Positions: our spans count characters per line (as saphyr does), LSP counts UTF-16 code units.

use crate::yaml::{Pos, Span};
use lsp_types::{Position, Range};

/// The lines of one text, for converting between byte offsets, our character columns and LSP
/// positions. Lines end at `\n`, `\r\n` or a lone `\r`, as in both YAML and LSP.
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of each line's start.
    starts: Vec<usize>,
    /// Whether the text starts with a byte-order mark: the engine's spans do not count it.
    bom: bool,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        let bytes = text.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
                _ => {}
            }
        }
        LineIndex {
            text,
            starts,
            bom: text.starts_with('\u{feff}'),
        }
    }

    /// Line `line` (0-based) without its line break; empty past the end.
    fn line(&self, line: usize) -> &'a str {
        let Some(&start) = self.starts.get(line) else {
            return "";
        };
        let end = self
            .starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// The LSP position of character column `col` of line `line` (both 0-based), clamped to the
    /// line's end.
    pub fn position(&self, line: u32, col: u32) -> Position {
        let character = self
            .line(line as usize)
            .chars()
            .take(col as usize)
            .map(char::len_utf16)
            .sum::<usize>();
        Position::new(line, u32::try_from(character).unwrap_or(u32::MAX))
    }

    fn pos(&self, p: Pos) -> Position {
        let line = p.line.max(1) - 1;
        let bom = u32::from(self.bom && line == 0);
        self.position(line, p.col + bom)
    }

    /// The LSP range of an engine span; an empty span covers the character at its start, so an
    /// editor has something to underline.
    pub fn range(&self, span: Span) -> Range {
        let start = self.pos(span.start);
        let end = if span.end.index > span.start.index {
            self.pos(span.end)
        } else {
            let bom = u32::from(self.bom && span.start.line <= 1);
            self.position(start.line, span.start.col + bom + 1)
        };
        Range::new(start, end)
    }

    /// The LSP position of byte offset `at` (a char boundary of the text).
    pub fn position_of_byte(&self, at: usize) -> Position {
        let line = self.starts.partition_point(|&s| s <= at) - 1;
        let start = self.starts[line];
        let before = self.text.get(start..at.min(self.text.len())).unwrap_or("");
        let character: usize = before.chars().map(char::len_utf16).sum();
        Position::new(line as u32, u32::try_from(character).unwrap_or(u32::MAX))
    }

    /// The byte offset of an LSP position, clamped to its line's end.
    pub fn byte_of(&self, p: Position) -> usize {
        let Some(&start) = self.starts.get(p.line as usize) else {
            return self.text.len();
        };
        let mut units = 0u32;
        for (i, c) in self.line(p.line as usize).char_indices() {
            if units >= p.character {
                return start + i;
            }
            units += c.len_utf16() as u32;
        }
        start + self.line(p.line as usize).len()
    }

    /// The text of line `line` up to LSP position `p`.
    pub fn line_before(&self, p: Position) -> &'a str {
        let start = self.starts.get(p.line as usize).copied().unwrap_or(0);
        &self.text[start..self.byte_of(p).max(start)]
    }

    /// The whole line `line`, without its break.
    pub fn line_text(&self, line: u32) -> &'a str {
        self.line(line as usize)
    }
}

/// Whether `p` lies inside `r` (its end included: a cursor just after a name is on it).
pub fn contains(r: &Range, p: Position) -> bool {
    r.start <= p && p <= r.end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(line: u32, col: u32, index: u32, len: u32) -> Span {
        Span {
            start: Pos { index, line, col },
            end: Pos {
                index: index + len,
                line,
                col: col + len,
            },
        }
    }

    #[test]
    fn columns_count_utf16_units() {
        // `é` is one unit, `😀` two; our columns count characters.
        let text = "a: x\nb: é😀 env-dev\n";
        let idx = LineIndex::new(text);
        // `env-dev` starts at character 6 of line 2 (1-based), character index 11 of the text.
        let r = idx.range(span(2, 6, 11, 7));
        assert_eq!(r, Range::new(Position::new(1, 7), Position::new(1, 14)));
        let byte = text.find("env-dev").unwrap();
        assert_eq!(idx.position_of_byte(byte), Position::new(1, 7));
        assert_eq!(idx.byte_of(Position::new(1, 7)), byte);
        assert_eq!(idx.line_before(Position::new(1, 7)), "b: é😀 ");
    }

    #[test]
    fn line_breaks_of_every_kind() {
        let idx = LineIndex::new("a\r\nb\rc\nd");
        assert_eq!(idx.line_text(0), "a");
        assert_eq!(idx.line_text(1), "b");
        assert_eq!(idx.line_text(2), "c");
        assert_eq!(idx.line_text(3), "d");
        assert_eq!(idx.position_of_byte(7), Position::new(3, 0));
        assert_eq!(idx.position_of_byte(4), Position::new(1, 1));
    }

    #[test]
    fn empty_spans_cover_one_character_and_the_bom_is_counted_on_line_one() {
        let idx = LineIndex::new("\u{feff}kind: X\n");
        let r = idx.range(Span::file_start());
        assert_eq!(r, Range::new(Position::new(0, 1), Position::new(0, 2)));
        // Past the end of a line, a position is clamped.
        assert_eq!(idx.position(0, 99), Position::new(0, 8));
    }
}
