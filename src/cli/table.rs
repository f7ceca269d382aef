//! Tables that fit the terminal, the way `systemctl list-timers` and `kubectl get` fit:
//! one line per row, never wrapped, the key never cut. When the terminal is too narrow,
//! in this order until the table fits: optional columns with nothing in them go; cells
//! with a shorter form take it (a time keeps how far it is, `in 4m`, or loses its year);
//! optional columns go, least useful first; then the other cells are cut with `…`, the
//! longest columns first; and, only when that is not enough, spare columns go. Key
//! columns (a job's name, a run's id) and times are never cut. Not a terminal, a terminal of
//! unknown (or zero) width, or `--wide`: full width, every column.
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

/// One cell: its text, a shorter form it may take on a narrow terminal, and a colour
/// when colour is on.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) text: String,
    pub(crate) short: Option<String>,
    pub(crate) color: Option<Color>,
}

impl Cell {
    pub(crate) fn new(text: impl ToString) -> Cell {
        Cell {
            text: text.to_string(),
            short: None,
            color: None,
        }
    }

    /// A cell that may be shown as `short` where room is scarce.
    pub(crate) fn with_short(text: impl ToString, short: impl ToString) -> Cell {
        Cell {
            short: Some(short.to_string()),
            ..Cell::new(text)
        }
    }

    pub(crate) fn fg(mut self, c: Color) -> Cell {
        self.color = Some(c);
        self
    }

    fn shown(&self, short: bool) -> &str {
        match (&self.short, short) {
            (Some(s), true) => s,
            _ => &self.text,
        }
    }

    /// Nothing in it: `-` or blank.
    fn is_empty(&self) -> bool {
        let t = self.text.trim();
        t.is_empty() || t == "-"
    }
}

/// The fewest columns a column is cut to (unless its widest cell is narrower), as long
/// as the headers can stay whole.
const MIN_WIDTH: usize = 6;
/// The fewest of all, on a terminal too narrow for that.
const LAST_WIDTH: usize = 3;

/// What a column may give up for the table to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Never cut, never left out (a job's name, a run's id).
    Key,
    /// Cut when the table is too wide.
    Plain,
    /// Left out before anything is cut (rank: the lowest goes first).
    Optional(u8),
    /// Left out when cutting is not enough (rank: the lowest goes first).
    Spare(u8),
}

/// A table's columns and the width each is printed at.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    headers: Vec<String>,
    roles: Vec<Role>,
    /// The widest cell of each column so far (the header included).
    natural: Vec<usize>,
    /// The same, with each cell in its shorter form where it has one.
    natural_short: Vec<usize>,
    /// Every cell so far is empty.
    empty: Vec<bool>,
    /// Some cell has a shorter form (a time): such a column is never cut, a time cut in
    /// the middle says nothing.
    has_short: Vec<bool>,
    /// Decided by [`Table::fit`]: which columns are shown, which in their short form.
    shown: Vec<bool>,
    short: Vec<bool>,
    widths: Vec<usize>,
    color: bool,
}

impl Table {
    pub(crate) fn new(headers: &[&str], color: bool) -> Table {
        let natural: Vec<usize> = headers.iter().map(|h| h.width()).collect();
        let n = headers.len();
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            roles: vec![Role::Plain; n],
            widths: natural.clone(),
            natural_short: natural.clone(),
            natural,
            empty: vec![true; n],
            has_short: vec![false; n],
            shown: vec![true; n],
            short: vec![false; n],
            color,
        }
    }

    fn set_roles(mut self, headers: &[&str], role: impl Fn(u8) -> Role) -> Table {
        for (rank, h) in headers.iter().enumerate() {
            if let Some(i) = self.headers.iter().position(|x| x == h) {
                self.roles[i] = role(rank as u8);
            }
        }
        self
    }

    /// These columns are never cut nor left out.
    pub(crate) fn keys(self, headers: &[&str]) -> Table {
        self.set_roles(headers, |_| Role::Key)
    }

    /// These columns are left out, in this order, before any cell is cut.
    pub(crate) fn optional(self, headers: &[&str]) -> Table {
        self.set_roles(headers, Role::Optional)
    }

    /// These columns are left out, in this order, when cutting is not enough.
    pub(crate) fn spare(self, headers: &[&str]) -> Table {
        self.set_roles(headers, Role::Spare)
    }

    /// Takes a row's cells into account for the widths (nothing is kept).
    pub(crate) fn measure(&mut self, cells: &[Cell]) {
        for (i, c) in cells.iter().enumerate().take(self.natural.len()) {
            let w = c.text.width();
            self.natural[i] = self.natural[i].max(w);
            let s = c.short.as_deref().map_or(w, |s| s.width());
            self.natural_short[i] = self.natural_short[i].max(s);
            self.empty[i] &= c.is_empty();
            self.has_short[i] |= c.short.is_some();
        }
    }

    /// What the printed table takes with these column widths: a space before and after
    /// each cell (a borderless table), the last one's trailing space not
    /// printed.
    fn total(widths: impl Iterator<Item = usize>) -> usize {
        widths.map(|w| w + 2).sum::<usize>().saturating_sub(1)
    }

    /// Leaves the last column out.
    pub(crate) fn drop_last(&mut self) {
        for v in [&mut self.natural, &mut self.natural_short, &mut self.widths] {
            v.pop();
        }
        self.headers.pop();
        self.roles.pop();
        self.empty.pop();
        self.has_short.pop();
        self.shown.pop();
        self.short.pop();
    }

    /// The width the table takes at its natural size.
    pub(crate) fn natural_width(&self) -> usize {
        Table::total(self.natural.iter().copied())
    }

    /// A column's width before any cut, in the form chosen for it.
    fn full(&self, i: usize) -> usize {
        if self.short[i] {
            self.natural_short[i]
        } else {
            self.natural[i]
        }
    }

    /// The width the shown columns take, each at `width(i)`.
    fn shown_total(&self, width: impl Fn(usize) -> usize) -> usize {
        Table::total(
            (0..self.headers.len())
                .filter(|&i| self.shown[i])
                .map(width),
        )
    }

    /// Whether a column is never cut: a key, or one with shorter forms.
    fn whole(&self, i: usize) -> bool {
        self.roles[i] == Role::Key || self.has_short[i]
    }

    /// The narrowest a column is cut to while headers stay whole.
    fn floor(&self, i: usize) -> usize {
        if self.whole(i) {
            self.full(i)
        } else {
            self.full(i).min(MIN_WIDTH.max(self.headers[i].width()))
        }
    }

    /// Leaves out the lowest-ranked column of a kind while `too_wide` says the table is.
    fn leave_out(&mut self, rank_of: fn(Role) -> Option<u8>, too_wide: &dyn Fn(&Table) -> bool) {
        while too_wide(self) {
            let Some(i) = (0..self.headers.len())
                .filter(|&i| self.shown[i])
                .filter_map(|i| rank_of(self.roles[i]).map(|r| (r, i)))
                .min()
                .map(|(_, i)| i)
            else {
                return;
            };
            self.shown[i] = false;
        }
    }

    /// Decides what is shown and how wide, for a terminal `max` columns wide (`None`: no
    /// limit, every column whole), in the order the module says.
    pub(crate) fn fit(&mut self, max: Option<usize>) {
        let n = self.headers.len();
        self.shown = vec![true; n];
        self.short = vec![false; n];
        let Some(max) = max else {
            self.widths = self.natural.clone();
            return;
        };
        if self.shown_total(|i| self.full(i)) > max {
            for i in 0..n {
                if self.empty[i] && matches!(self.roles[i], Role::Optional(_) | Role::Spare(_)) {
                    self.shown[i] = false;
                }
            }
        }
        // The shorter forms, the column that saves most first.
        while self.shown_total(|i| self.full(i)) > max {
            let Some(i) = (0..n)
                .filter(|&i| {
                    self.shown[i] && !self.short[i] && self.natural_short[i] < self.natural[i]
                })
                .max_by_key(|&i| (self.natural[i] - self.natural_short[i], i))
            else {
                break;
            };
            self.short[i] = true;
        }
        let optional = |r| match r {
            Role::Optional(rank) => Some(rank),
            _ => None,
        };
        let spare = |r| match r {
            Role::Spare(rank) => Some(rank),
            _ => None,
        };
        self.leave_out(optional, &|t| t.shown_total(|i| t.full(i)) > max);
        self.leave_out(spare, &|t| t.shown_total(|i| t.floor(i)) > max);
        self.cut_to(max);
    }

    /// Cuts the shown columns to `max`: the widest column that can still give is
    /// narrowed first, then the widest of what is left, and so on, none below its floor
    /// ([`MIN_WIDTH`] or its header) while that is enough, else to [`LAST_WIDTH`]; a key
    /// column never.
    fn cut_to(&mut self, max: usize) {
        let n = self.headers.len();
        let mut w: Vec<usize> = (0..n).map(|i| self.full(i)).collect();
        let floors: [Vec<usize>; 2] = [
            (0..n).map(|i| self.floor(i)).collect(),
            (0..n)
                .map(|i| {
                    if self.whole(i) {
                        w[i]
                    } else {
                        w[i].min(LAST_WIDTH)
                    }
                })
                .collect(),
        ];
        for floor in &floors {
            while Table::total((0..n).filter(|&i| self.shown[i]).map(|i| w[i])) > max {
                // The widest column that can still give.
                let Some(i) = (0..n)
                    .filter(|&i| self.shown[i] && w[i] > floor[i])
                    .max_by_key(|&i| (w[i], i))
                else {
                    break;
                };
                w[i] -= 1;
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
            if !self.shown[i] {
                continue;
            }
            let text = cells.get(i).map(|c| c.shown(self.short[i])).unwrap_or("");
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
    pub(crate) fn render(mut self, rows: &[Vec<Cell>], max: Option<usize>) -> String {
        for r in rows {
            self.measure(r);
        }
        self.fit(max);
        let mut s = self.header_line();
        s.push('\n');
        for r in rows {
            s.push_str(&self.line(r));
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
        let t = || Table::new(&["JOB", "TYPE", "SCHEDULE", "REASON"], false);
        let full = t().render(&rows, None);
        assert!(full.contains("a very long reason that goes on"), "{full}");
        let narrow = t().render(&rows, Some(50));
        for l in narrow.lines() {
            assert!(l.width() <= 50, "{l:?} is wider than 50");
        }
        assert_eq!(narrow.lines().count(), 3, "one line per row:\n{narrow}");
        // REASON (the longest) was cut; the others kept whole.
        assert!(narrow.contains('…'), "{narrow}");
        assert!(narrow.contains("script"), "{narrow}");
        assert!(narrow.contains("cron 15 3 * * *"), "{narrow}");
        // Narrower still: the longest two give in turn.
        let narrower = t().render(&rows, Some(40));
        assert!(narrower.lines().all(|l| l.width() <= 40), "{narrower}");
        assert!(narrower.contains("script"), "{narrower}");
    }

    #[test]
    fn empty_columns_go_then_short_forms_then_optional_ones_and_keys_stay_whole() {
        let headers = ["RUN", "JOB", "STARTED", "EXIT", "ROLE"];
        let t = || {
            Table::new(&headers, false)
                .keys(&["RUN", "JOB"])
                .optional(&["ROLE", "EXIT"])
        };
        let rows = vec![vec![
            Cell::new("12"),
            Cell::new("a-rather-long-job-name"),
            Cell::with_short("2026-12-08 09:00 (in 9h)", "in 9h"),
            Cell::new("3"),
            Cell::new("-"),
        ]];
        let at = |w| t().render(&rows, Some(w));
        // Wide enough: everything.
        assert!(
            at(80).contains("2026-12-08 09:00 (in 9h)  3     -"),
            "{}",
            at(80)
        );
        // ROLE (empty) goes first.
        let a = at(62);
        assert!(!a.contains("ROLE") && a.contains("(in 9h)"), "{a}");
        // Then the short form.
        let b = at(45);
        assert!(b.contains(" in 9h ") && b.contains("EXIT"), "{b}");
        // Then EXIT; the key columns stay whole even when the table can't fit.
        let c = at(20);
        assert!(
            !c.contains("EXIT") && c.contains("a-rather-long-job-name"),
            "{c}"
        );
        // No limit: whole.
        assert!(t().render(&rows, None).contains("ROLE"));
    }

    #[test]
    fn cuts_count_display_columns() {
        assert_eq!(cut("hello", 10), "hello");
        assert_eq!(cut("hello world", 6), "hello…");
        assert_eq!(cut("日本語テキスト", 5), "日本…");
        assert_eq!(cut("x", 0), "");
    }
}
