//! The inside of a JSON string written as its text is read: a log of any size printed as
//! the `output` of one `--json` document without holding it whole (`jobctl logs --json`).

use std::io::{self, Write};

/// The inside of a JSON string, written piece by piece: bytes decoded as UTF-8 the way
/// `String::from_utf8_lossy` does (a character cut between two pieces is joined, not
/// replaced), escaped as serde_json does.
pub(crate) struct JsonText<W: Write> {
    pub(crate) out: W,
    /// The start of a character cut off at the end of the last piece.
    carry: Vec<u8>,
    joined: Vec<u8>,
}

impl<W: Write> JsonText<W> {
    pub(crate) fn new(out: W) -> JsonText<W> {
        JsonText {
            out,
            carry: Vec::new(),
            joined: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, piece: &[u8]) -> io::Result<()> {
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        joined.append(&mut self.carry);
        joined.extend_from_slice(piece);
        let mut rest = &joined[..];
        let result = loop {
            match std::str::from_utf8(rest) {
                Ok(s) => break escape(&mut self.out, s),
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // Checked valid just above.
                    let good = std::str::from_utf8(good).unwrap_or_default();
                    if let Err(err) = escape(&mut self.out, good) {
                        break Err(err);
                    }
                    match e.error_len() {
                        Some(n) => {
                            if let Err(err) = self.out.write_all("\u{FFFD}".as_bytes()) {
                                break Err(err);
                            }
                            rest = &bad[n..];
                        }
                        None => {
                            self.carry.extend_from_slice(bad);
                            break Ok(());
                        }
                    }
                }
            }
        };
        self.joined = joined;
        result
    }

    /// A character still cut off at the very end is invalid.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        if self.carry.is_empty() {
            return Ok(());
        }
        self.carry.clear();
        self.out.write_all("\u{FFFD}".as_bytes())
    }
}

fn escape(out: &mut impl Write, s: &str) -> io::Result<()> {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[],
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        if esc.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_all(esc)?;
        }
        start = i + 1;
    }
    out.write_all(&bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through_json_text(data: &[u8], piece: usize) -> String {
        let mut t = JsonText::new(Vec::new());
        for p in data.chunks(piece.max(1)) {
            t.push(p).unwrap();
        }
        t.finish().unwrap();
        String::from_utf8(t.out).unwrap()
    }

    #[test]
    fn streamed_json_text_is_what_serde_json_writes_for_the_lossy_string() {
        let mut data = "plain, \"quoted\", back\\slash, tab\t, nl\n, cr\r, bell\x07, nul\0, del\x7f, \u{8}\u{c} ünïcødé 😀 ".as_bytes().to_vec();
        data.extend_from_slice(
            b"bad \xff\xfe, cut \xe2\x82, lone \x80, overlong \xc0\xaf, end \xf0\x9f\x98",
        );
        let whole =
            serde_json::Value::from(String::from_utf8_lossy(&data).into_owned()).to_string();
        let inner = &whole[1..whole.len() - 1];
        for piece in 1..data.len() + 1 {
            assert_eq!(through_json_text(&data, piece), inner, "pieces of {piece}");
        }
    }
}
