//! Detection content written for yagura (Apache-2.0, like the rest of the project), embedded in
//! the binary and loaded unless `--no-builtin-rules`.

/// `(file name, YAML text)` of every built-in rule file.
pub const RULES: &[(&str, &str)] = &[
    (
        "proxy_executable_download.yml",
        include_str!("../rules/proxy_executable_download.yml"),
    ),
    (
        "proxy_raw_ip_request.yml",
        include_str!("../rules/proxy_raw_ip_request.yml"),
    ),
    (
        "proxy_scripting_user_agent.yml",
        include_str!("../rules/proxy_scripting_user_agent.yml"),
    ),
    (
        "dns_tunnel_long_label.yml",
        include_str!("../rules/dns_tunnel_long_label.yml"),
    ),
    (
        "dns_txt_to_rare_tld.yml",
        include_str!("../rules/dns_txt_to_rare_tld.yml"),
    ),
    (
        "mail_executable_attachment.yml",
        include_str!("../rules/mail_executable_attachment.yml"),
    ),
    (
        "mail_double_extension.yml",
        include_str!("../rules/mail_double_extension.yml"),
    ),
    (
        "auth_password_spray.yml",
        include_str!("../rules/auth_password_spray.yml"),
    ),
    (
        "auth_brute_force.yml",
        include_str!("../rules/auth_brute_force.yml"),
    ),
    (
        "auth_explicit_credentials_admin.yml",
        include_str!("../rules/auth_explicit_credentials_admin.yml"),
    ),
];
