//! Content-Security-Policy nonces: a page whose policy allows scripts and styles by nonce
//! would block the ones rules insert, unless they carry the same nonce (see
//! [`crate::rules::template`], which gives it to them).

/// The nonce a `Content-Security-Policy` allows (`'nonce-abc123'`), if any.
pub fn csp_nonce(policy: &str) -> Option<String> {
    policy.split([' ', ';', ',']).find_map(|source| {
        let nonce = source.trim().strip_prefix("'nonce-")?.strip_suffix('\'')?;
        let valid = !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
        valid.then(|| nonce.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_found_in_policies() {
        assert_eq!(csp_nonce("script-src 'self' 'nonce-r4nd0m+/='; object-src 'none'"), Some("r4nd0m+/=".into()));
        assert_eq!(csp_nonce("default-src 'self'"), None);
        assert_eq!(csp_nonce("script-src 'nonce-'"), None);
        assert_eq!(csp_nonce("script-src 'nonce-a\"b'"), None);
    }
}
