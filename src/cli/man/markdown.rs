//! The docs' Markdown as man-page roff: parsed by pulldown-cmark (CommonMark and its
//! tables), written through the `roff` crate, which escapes what roff would read as
//! markup (`\`, a leading `.` or `'`, `-`). So a backslash, a quote or a dash in an example
//! reaches the reader as written, and code spans that wrap keep no backticks.
//!
//! The page has no table preprocessor (a plain `groff -man` reads it): a table is a list of
//! tagged paragraphs, its first column the tag, its middle columns `header: value`, its
//! last the text.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use roff::{Inline, Roff, bold, italic, roman};

/// `md` appended to `page`. Its level-1 heading is left out (a page's title is its NAME);
/// level 2 becomes a section, level 3 a subsection.
pub(super) fn render(md: &str, page: &mut Roff) {
    let mut w = Writer {
        page,
        line: Vec::new(),
        bold: 0,
        italic: 0,
        heading: None,
        code: None,
        lists: Vec::new(),
        item_has_text: false,
        tight: Vec::new(),
        table: None,
        link: None,
    };
    let events: Vec<Event<'_>> = Parser::new_ext(md, Options::ENABLE_TABLES).collect();
    for (i, event) in events.iter().enumerate() {
        if matches!(event, Event::Start(Tag::List(_))) && is_tight(&events[i..]) {
            w.tight.push(w.lists.len());
        }
        w.event(event.clone());
    }
    w.flush();
}

/// Whether the list `events` start with is tight (CommonMark: its items' text is not in
/// paragraphs), so its items go without a blank line between them.
fn is_tight(events: &[Event<'_>]) -> bool {
    let mut depth = 0usize;
    for e in events {
        match e {
            Event::Start(Tag::List(_)) | Event::Start(Tag::Item) => depth += 1,
            Event::End(TagEnd::List(_)) | Event::End(TagEnd::Item) => {
                depth -= 1;
                if depth == 0 {
                    return true;
                }
            }
            // Directly inside one of this list's items.
            Event::Start(Tag::Paragraph) if depth == 2 => return false,
            _ => {}
        }
    }
    true
}

/// A table being read: its header and rows, each cell's inline text.
#[derive(Default)]
struct Table {
    head: Vec<Vec<Inline>>,
    rows: Vec<Vec<Vec<Inline>>>,
    in_head: bool,
}

struct Writer<'p> {
    page: &'p mut Roff,
    /// The text line being gathered (a paragraph, an item, a cell).
    line: Vec<Inline>,
    bold: u32,
    italic: u32,
    heading: Option<HeadingLevel>,
    code: Option<String>,
    /// Each open list: the next number of a numbered one.
    lists: Vec<Option<u64>>,
    /// Whether the current list item has text yet (its next paragraph needs a blank line).
    item_has_text: bool,
    /// The depths (`lists.len()` before each opened) of the open tight lists.
    tight: Vec<usize>,
    table: Option<Table>,
    /// The open link: where its text starts in `line`, and where it points.
    link: Option<(usize, String)>,
}

impl Writer<'_> {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => match &mut self.code {
                Some(code) => code.push_str(&text),
                None => self.push(&text),
            },
            Event::Code(code) => self.line.push(bold(breakable(&code))),
            Event::SoftBreak => self.push(" "),
            Event::HardBreak => self.line.push(roff::line_break()),
            Event::Html(_) | Event::InlineHtml(_) | Event::Rule => {}
            _ => {}
        }
    }

    /// Text in the current style.
    fn push(&mut self, text: &str) {
        self.line.push(if self.bold > 0 {
            bold(text)
        } else if self.italic > 0 {
            italic(text)
        } else {
            roman(text)
        });
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush();
                self.heading = Some(level);
            }
            Tag::Paragraph => {
                if self.table.is_some() {
                    return;
                }
                if self.lists.is_empty() {
                    self.page.control("PP", []);
                } else if self.item_has_text {
                    self.page.control("sp", []);
                }
            }
            Tag::CodeBlock(_) => {
                self.flush();
                self.code = Some(String::new());
            }
            Tag::List(first) => {
                self.flush();
                if !self.lists.is_empty() {
                    self.page.control("RS", []);
                }
                if self.tight.last() == Some(&self.lists.len()) {
                    self.page.control("PD", ["0"]);
                }
                self.lists.push(first);
            }
            Tag::Item => {
                self.flush();
                let indent = "4";
                match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let mark = format!("{n}.");
                        *n += 1;
                        self.page.control("IP", [mark.as_str(), indent]);
                    }
                    _ => {
                        self.page.control("IP", ["\\(bu", indent]);
                    }
                }
                self.item_has_text = false;
            }
            Tag::Table(_) => {
                self.flush();
                self.table = Some(Table::default());
            }
            Tag::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = true;
                }
            }
            Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => self.line.clear(),
            Tag::Strong => self.bold += 1,
            Tag::Emphasis => self.italic += 1,
            Tag::Link { dest_url, .. } => self.link = Some((self.line.len(), dest_url.to_string())),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(level) => {
                self.heading = None;
                let title = plain(&std::mem::take(&mut self.line));
                match level {
                    HeadingLevel::H1 => {}
                    HeadingLevel::H2 => {
                        self.page.control("SH", [title.to_uppercase().as_str()]);
                    }
                    HeadingLevel::H3 => {
                        self.page.control("SS", [title.as_str()]);
                    }
                    _ => {
                        self.page.control("PP", []);
                        self.page.text([bold(title)]);
                    }
                }
            }
            TagEnd::Paragraph if self.table.is_none() => self.flush(),
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                self.code_block(&code);
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                if self.tight.last() == Some(&self.lists.len()) {
                    self.tight.pop();
                    self.page.control("PD", []);
                }
                if !self.lists.is_empty() {
                    self.page.control("RE", []);
                }
            }
            TagEnd::Item => self.flush(),
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = false;
                }
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.line);
                if let Some(t) = &mut self.table {
                    if t.in_head {
                        t.head.push(cell);
                    } else if let Some(row) = t.rows.last_mut() {
                        row.push(cell);
                    }
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.table_rows(t);
                }
            }
            TagEnd::Strong => self.bold = self.bold.saturating_sub(1),
            TagEnd::Emphasis => self.italic = self.italic.saturating_sub(1),
            TagEnd::Link => {
                if let Some((start, dest)) = self.link.take()
                    && let Some(name) = man_reference(&dest, &plain(&self.line[start..]))
                {
                    self.line.truncate(start);
                    self.line.extend(name);
                }
            }
            _ => {}
        }
    }

    /// The gathered text as one line of the page.
    fn flush(&mut self) {
        if self.heading.is_some() || self.line.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.line);
        self.page.text(line);
        if !self.lists.is_empty() {
            self.item_has_text = true;
        }
    }

    /// A code block indented, unfilled, each line as written.
    fn code_block(&mut self, code: &str) {
        if self.lists.is_empty() {
            self.page.control("PP", []);
        } else {
            self.page.control("sp", []);
        }
        self.page.control("RS", ["4"]).control("nf", []);
        for line in code.strip_suffix('\n').unwrap_or(code).split('\n') {
            self.page.text([roman(line)]);
        }
        self.page.control("fi", []).control("RE", []);
        if !self.lists.is_empty() {
            self.item_has_text = true;
        }
    }

    /// Each row a tagged paragraph: the first cell the tag; the middle cells as
    /// `header: value`; the last cell below them.
    fn table_rows(&mut self, t: Table) {
        let headers: Vec<String> = t.head.iter().map(|h| plain(h)).collect();
        for row in t.rows {
            let mut cells = row.into_iter();
            let Some(tag) = cells.next() else { continue };
            let rest: Vec<Vec<Inline>> = cells.collect();
            self.page.control("TP", []);
            self.page.text(if tag.is_empty() {
                vec![roman(" ")]
            } else {
                tag
            });
            let mut body: Vec<Inline> = Vec::new();
            let last = rest.len().saturating_sub(1);
            for (i, cell) in rest.into_iter().enumerate() {
                if cell.is_empty() {
                    continue;
                }
                if i < last {
                    if !body.is_empty() {
                        body.push(roman("; "));
                    }
                    if let Some(h) = headers.get(i + 1).filter(|h| !h.is_empty()) {
                        body.push(roman(format!("{h}: ")));
                    }
                    body.extend(cell);
                } else {
                    if !body.is_empty() {
                        body.push(roff::line_break());
                    }
                    body.extend(cell);
                }
            }
            if !body.is_empty() {
                self.page.text(body);
            }
        }
    }
}

/// What a link to another of jobctl's docs whose text is the file's name (`cli.md`) reads
/// as on a man page: the CLI reference is jobctl(1), the other docs are named by their
/// path in jobctl's source. `None`: the link's own text.
fn man_reference(dest: &str, text: &str) -> Option<Vec<Inline>> {
    let file = dest.split('#').next().unwrap_or(dest);
    if file != text || file.contains('/') || !file.ends_with(".md") {
        return None;
    }
    Some(match file {
        "cli.md" => vec![bold("jobctl"), roman("(1)")],
        "configuration.md" => vec![bold("jobctl.toml"), roman("(5)")],
        _ => vec![roman(format!("docs/{file}"))],
    })
}

/// Where a line may break inside code: `finish` (mod.rs) turns it into roff's `\:`.
pub(super) const BREAK: char = '\u{E000}';

/// A code span that may break after its commas when it is longer than a line can hold
/// (a JSON object on one line), since the page is never hyphenated.
fn breakable(code: &str) -> String {
    if code.len() <= 40 {
        return code.to_string();
    }
    code.replace(',', &format!(",{BREAK}"))
}

/// The text of some inline pieces, without their fonts.
fn plain(line: &[Inline]) -> String {
    line.iter()
        .map(|i| match i {
            Inline::Roman(s) | Inline::Bold(s) | Inline::Italic(s) => s.as_str(),
            Inline::LineBreak => " ",
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roff(md: &str) -> String {
        let mut page = Roff::new();
        render(md, &mut page);
        page.to_roff()
    }

    #[test]
    fn markdown_becomes_escaped_roff() {
        let r = roff(
            "# T\n\nSee [cli.md](cli.md#x), [below](#y).\n\n## Keys\n\n| key | type | meaning |\n|---|---|---|\n| `scope` | string | who |\n\n1. one\n2. two `x`\n\n```sh\n.dot \"{\\\"a\\\": 1}\"\n```\n",
        );
        assert!(r.contains("See \\fBjobctl\\fR(1), below."), "{r}");
        assert!(r.contains(".SH KEYS"), "{r}");
        assert!(
            r.contains(".TP\n\\fBscope\\fR\ntype: string\n.br\nwho"),
            "{r}"
        );
        assert!(
            r.contains(".PD 0\n.IP 1. 4\none\n.IP 2. 4\ntwo \\fBx\\fR\n.PD"),
            "{r}"
        );
        // A backslash is a backslash, and a line can't be read as a request.
        assert!(
            r.contains(".nf\n\\&.dot \"{\\\\\"a\\\\\": 1}\"\n.fi"),
            "{r}"
        );
    }
}
