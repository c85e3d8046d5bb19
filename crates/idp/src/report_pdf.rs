//! A plain, printable PDF of text lines (PDF 1.4, the standard Helvetica font,
//! uncompressed content streams), enough for an access-review report a reviewer
//! can print or attach to evidence — written here in a few dozen lines rather
//! than pulling a PDF crate into the IdP.

const LINES_PER_PAGE: usize = 58;

fn escape(s: &str) -> String {
    // The standard fonts use WinAnsi: keep ASCII, show anything else as `?`.
    s.chars()
        .map(|c| match c {
            '(' => "\\(".to_string(),
            ')' => "\\)".to_string(),
            '\\' => "\\\\".to_string(),
            c if c.is_ascii() && !c.is_ascii_control() => c.to_string(),
            _ => "?".to_string(),
        })
        .collect()
}

/// A PDF with `title` on every page and `lines` below it.
pub fn text_pdf(title: &str, lines: &[String]) -> Vec<u8> {
    let pages: Vec<&[String]> = if lines.is_empty() {
        vec![&[]]
    } else {
        lines.chunks(LINES_PER_PAGE).collect()
    };
    let n = pages.len();
    // Objects: 1 catalog, 2 pages, 3 font, then per page: page, content.
    let mut objects: Vec<String> = Vec::new();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {n} >>",
        kids.join(" ")
    ));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for (i, page) in pages.iter().enumerate() {
        let mut content = format!(
            "BT /F1 12 Tf 40 800 Td ({}) Tj ET\nBT /F1 8 Tf 40 780 Td 12 TL\n",
            escape(&format!("{title}  (page {} of {n})", i + 1))
        );
        for line in page.iter() {
            content.push_str(&format!("({}) Tj T*\n", escape(line)));
        }
        content.push_str("ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len() + 1
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xref_points_at_every_object_and_text_is_escaped() {
        let lines: Vec<String> = (0..130).map(|i| format!("item {i} (kept)")).collect();
        let pdf = text_pdf("Review: Q4", &lines);
        let s = String::from_utf8(pdf.clone()).unwrap();
        assert!(s.starts_with("%PDF-1.4") && s.ends_with("%%EOF\n"));
        assert!(s.contains("/Count 3"), "130 lines make three pages");
        assert!(s.contains("(item 129 \\(kept\\)) Tj"));
        // startxref → xref table → each offset starts "N 0 obj".
        let start: usize = s
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(s[start..].starts_with("xref"));
        for (i, line) in s[start..]
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .enumerate()
        {
            let off: usize = line[..10].parse().unwrap();
            assert!(
                s[off..].starts_with(&format!("{} 0 obj", i + 1)),
                "object {}",
                i + 1
            );
        }
    }
}
