//! CSV cells for exports people open in spreadsheets (the audit log, review
//! reports). Follows the OWASP CSV-injection guidance in full: every cell is
//! quoted (RFC 4180, inner quotes doubled), and a cell a spreadsheet could read
//! as a formula gets a leading `'` — one that starts with `=`, `+`, `-`, `@`, a
//! tab or a carriage return, also after leading whitespace or line breaks, and
//! the full-width forms of those characters that some spreadsheets fold.

/// Characters that start a formula (or a DDE payload) in some spreadsheet.
const TRIGGERS: [char; 10] = [
    '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// Whether a spreadsheet could evaluate `s` as a formula.
fn formula_like(s: &str) -> bool {
    if s.starts_with(TRIGGERS) {
        return true;
    }
    // Leading spaces or line feeds are skipped by some importers; look past them.
    s.trim_start_matches([' ', '\n', '\u{A0}', '\u{3000}'])
        .starts_with(TRIGGERS)
}

/// One quoted, neutralised CSV cell.
pub fn cell(s: &str) -> String {
    let neutral = if formula_like(s) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", neutral.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn every_owasp_trigger_is_neutralised() {
        for bad in [
            "=1+1",
            "+1",
            "-1",
            "@SUM(A1)",
            "\t=cmd|' /C calc'!A0",
            "\r=1+1",
            "\r\n=1",
            " =1+1",
            "\n=HYPERLINK(\"x\")",
            "\u{FF1D}1+1",
        ] {
            let c = cell(bad);
            assert!(c.starts_with("\"'"), "{bad:?} came out as {c:?}");
        }
    }

    #[test]
    fn plain_text_is_quoted_and_kept() {
        assert_eq!(cell("alice"), "\"alice\"");
        assert_eq!(cell("say \"hi\", then"), "\"say \"\"hi\"\", then\"");
        assert_eq!(cell(""), "\"\"");
        assert_eq!(cell("a-b=c"), "\"a-b=c\"");
    }
}
