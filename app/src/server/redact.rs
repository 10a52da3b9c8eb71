//! Keeping secrets out of messages: errors that quote a connection URL lose its `user:password@` before they
//! reach a page or a log. A leaf: it uses nothing of cachelens, so the error layer and every module may use it.

/// sqlx errors never carry the password, but configuration errors can quote the URL they failed on; strip
/// anything that looks like `user:password@` before an error reaches a page or a log.
pub fn redact_error(e: impl std::fmt::Display) -> String {
    redact_userinfo(&e.to_string())
}

pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c.is_whitespace() || c == '/' || c == '"').unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***@");
                rest = &tail[at + 1..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_userinfo;

    #[test]
    fn userinfo_is_masked_and_the_rest_kept() {
        assert_eq!(redact_userinfo("cannot reach mysql://app:s3cret@db:3306/covid now"), "cannot reach mysql://***@db:3306/covid now");
        assert_eq!(redact_userinfo("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(redact_userinfo("a rediss://:tok@en@h:1 b redis://u:p@x"), "a rediss://***@h:1 b redis://***@x");
    }
}
