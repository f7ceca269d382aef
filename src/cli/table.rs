//! Tables that fit the terminal, the way `systemctl list-timers` fits: one line per row,
//! never wrapped; when the terminal is too narrow, cells are cut with `…`, the longest
//! columns first. Not a terminal, or a terminal of unknown (or zero) width: full width.
//!
//! Widths are decided before any row is printed ([`Table::fit`]), from the widest cell of
//! each column, so a command can measure its rows in one pass and print them in a second
//! without holding them all (`history -n 100000`).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The colours of status cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    Red,
    Green,
    Yellow,
    Blue,
    Cyan,
}

/// One cell: its text, and a colour when colour is on.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) text: String,
    pub(crate) color: Option<Color>,
}

impl Cell {
    pub(crate) fn new(text: impl ToString) -> Cell {
        Cell {
            text: text.to_string(),
            color: None,
        }
    }

    pub(crate) fn fg(mut self, c: Color) -> Cell {
        self.color = Some(c);
        self
    }
}

/// The fewest columns a column is cut to (unless its widest cell is narrower), as long
/// as the headers can stay whole.
const MIN_WIDTH: usize = 6;
/// The fewest of all, on a terminal too narrow for that.
const LAST_WIDTH: usize = 3;

/// A table's columns and the width each is printed at.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    headers: Vec<String>,
    /// The widest cell of each column so far (the header included).
    natural: Vec<usize>,
    widths: Vec<usize>,
    color: bool,
}

impl Table {
    pub(crate) fn new(headers: &[&str], color: bool) -> Table {
        let natural: Vec<usize> = headers.iter().map(|h| h.width()).collect();
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            widths: natural.clone(),
            natural,
            color,
        }
    }

    /// Takes a row's cells into account for the widths (nothing is kept).
    pub(crate) fn measure(&mut self, cells: &[Cell]) {
        for (n, c) in self.natural.iter_mut().zip(cells) {
            *n = (*n).max(c.text.width());
        }
    }

    /// What the printed table takes with these column widths: a space before and after
    /// each cell (a borderless table), the last one's trailing space not
    /// printed.
    fn total(widths: &[usize]) -> usize {
        widths
            .iter()
            .map(|w| w + 2)
            .sum::<usize>()
            .saturating_sub(1)
    }

    /// Leaves the last column out.
    pub(crate) fn drop_last(&mut self) {
        self.headers.pop();
        self.natural.pop();
        self.widths.pop();
    }

    /// The width the table takes at its natural size.
    pub(crate) fn natural_width(&self) -> usize {
        Table::total(&self.natural)
    }

    /// Decides the widths for a terminal `max` columns wide (`None`: no limit): the
    /// widest column is narrowed first, then the widest of what is left, and so on, none
    /// below [`MIN_WIDTH`] or its header while that is enough, else to [`LAST_WIDTH`].
    pub(crate) fn fit(&mut self, max: Option<usize>) {
        let mut w = self.natural.clone();
        if let Some(max) = max {
            // First down to a floor that keeps headers whole; then, if the terminal is
            // narrower still, headers too, down to a few columns.
            let floors: [Vec<usize>; 2] = [
                self.natural
                    .iter()
                    .zip(&self.headers)
                    .map(|(n, h)| (*n).min(MIN_WIDTH.max(h.width())))
                    .collect(),
                self.natural.iter().map(|n| (*n).min(LAST_WIDTH)).collect(),
            ];
            for floor in &floors {
                while Table::total(&w) > max {
                    // The widest column that can still give.
                    let Some(i) = (0..w.len())
                        .filter(|&i| w[i] > floor[i])
                        .max_by_key(|&i| (w[i], i))
                    else {
                        break;
                    };
                    w[i] -= 1;
                }
            }
        }
        self.widths = w;
    }

    pub(crate) fn header_line(&self) -> String {
        let cells: Vec<Cell> = self.headers.iter().map(Cell::new).collect();
        self.line(&cells)
    }

    /// One row, cut and padded to the widths, trailing blanks trimmed.
    pub(crate) fn line(&self, cells: &[Cell]) -> String {
        let mut out = String::new();
        for (i, w) in self.widths.iter().enumerate() {
            let text = cells.get(i).map(|c| c.text.as_str()).unwrap_or("");
            let cut = cut(text, *w);
            let pad = w.saturating_sub(cut.width());
            out.push(' ');
            match cells.get(i).and_then(|c| c.color).filter(|_| self.color) {
                Some(color) => {
                    out.push_str(&paint(&cut, color));
                }
                None => out.push_str(&cut),
            }
            out.extend(std::iter::repeat_n(' ', pad + 1));
        }
        out.truncate(out.trim_end().len());
        out
    }

    /// The whole table, header first, for a handful of rows held at once.
    pub(crate) fn render(
        headers: &[&str],
        rows: &[Vec<Cell>],
        color: bool,
        max: Option<usize>,
    ) -> String {
        let mut t = Table::new(headers, color);
        for r in rows {
            t.measure(r);
        }
        t.fit(max);
        let mut s = t.header_line();
        s.push('\n');
        for r in rows {
            s.push_str(&t.line(r));
            s.push('\n');
        }
        s
    }
}

/// `text` in at most `width` columns: as it is when it fits, else cut with `…`.
pub(crate) fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

fn paint(text: &str, color: Color) -> String {
    let code = match color {
        Color::Red => 31,
        Color::Green => 32,
        Color::Yellow => 33,
        Color::Blue => 34,
        Color::Cyan => 36,
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<Cell> {
        cells.iter().map(Cell::new).collect()
    }

    #[test]
    fn the_longest_column_gives_first_and_nothing_wraps() {
        let rows = vec![
            row(&[
                "a",
                "script",
                "cron 15 3 * * *",
                "a very long reason that goes on",
            ]),
            row(&["bb", "agent", "every 1h", "-"]),
        ];
        let full = Table::render(&["JOB", "TYPE", "SCHEDULE", "REASON"], &rows, false, None);
        assert!(full.contains("a very long reason that goes on"), "{full}");
        let narrow = Table::render(
            &["JOB", "TYPE", "SCHEDULE", "REASON"],
            &rows,
            false,
            Some(50),
        );
        for l in narrow.lines() {
            assert!(l.width() <= 50, "{l:?} is wider than 50");
        }
        assert_eq!(narrow.lines().count(), 3, "one line per row:\n{narrow}");
        // REASON (the longest) was cut; the others kept whole.
        assert!(narrow.contains('…'), "{narrow}");
        assert!(narrow.contains("script"), "{narrow}");
        assert!(narrow.contains("cron 15 3 * * *"), "{narrow}");
        // Narrower still: the longest two give in turn.
        let narrower = Table::render(
            &["JOB", "TYPE", "SCHEDULE", "REASON"],
            &rows,
            false,
            Some(40),
        );
        assert!(narrower.lines().all(|l| l.width() <= 40), "{narrower}");
        assert!(narrower.contains("script"), "{narrower}");
    }

    #[test]
    fn cuts_count_display_columns() {
        assert_eq!(cut("hello", 10), "hello");
        assert_eq!(cut("hello world", 6), "hello…");
        assert_eq!(cut("日本語テキスト", 5), "日本…");
        assert_eq!(cut("x", 0), "");
    }
}
