//! Text placed into the HTML pages (report/index.html, the sweep comparison): every name a
//! user typed (experiment, condition, channel, stage, script path) goes through [`escape`].

/// `text` with `&`, `<`, `>`, `"` and `'` replaced by their entities, safe in element content
/// and in quoted attributes. (Five replacements; a crate would add a dependency for this.)
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_characters_become_entities() {
        assert_eq!(
            escape(r#"<b>a & "b"</b> 'c' é"#),
            "&lt;b&gt;a &amp; &quot;b&quot;&lt;/b&gt; &#39;c&#39; é"
        );
        assert_eq!(escape("plain"), "plain");
    }
}
