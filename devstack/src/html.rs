//! What tests check of HTML output without a parser of their own: whether its tags balance.

/// Elements that have no end tag.
const VOID: [&str; 14] =
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

/// Whether every end tag in `html` closes the element opened last and none is left open
/// (comments, doctypes and void elements aside; `<script>` and `<style>` content is not
/// looked into). Says where it goes wrong, for the failure message.
pub fn balanced(html: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        let offset = html.len() - rest.len() + at;
        rest = &rest[at + 1..];
        if let Some(comment) = rest.strip_prefix("!--") {
            let end = comment.find("-->").ok_or(format!("a comment left open at byte {offset}"))?;
            rest = &comment[end + 3..];
            continue;
        }
        let end = rest.find('>').ok_or(format!("a tag left open at byte {offset}"))?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() || VOID.contains(&name.as_str()) || tag.ends_with('/') {
            continue;
        }
        if closing {
            match open.pop() {
                Some(top) if top == name => {}
                top => return Err(format!("</{name}> at byte {offset} closes {top:?}")),
            }
        } else if name == "script" || name == "style" {
            let close = format!("</{name}");
            let end = rest.to_ascii_lowercase().find(&close).ok_or(format!("<{name}> left open"))?;
            rest = &rest[end..];
            open.push(name);
        } else {
            open.push(name);
        }
    }
    if open.is_empty() { Ok(()) } else { Err(format!("left open: {open:?}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_balanced_from_broken() {
        assert_eq!(balanced("<!doctype html><html><body><p>a<br><img src=x></p><!-- <b> --></body></html>"), Ok(()));
        assert!(balanced("<div><p>a</div></p>").unwrap_err().contains("</div>"));
        assert!(balanced("<div>").unwrap_err().contains("left open"));
        assert!(balanced("</div>").is_err());
        assert_eq!(balanced("<script>if (a < b) { x = '</p>'; }</script>"), Ok(()));
    }
}
