//! The command line: init, migrate, configuration errors.

use crate::testkit::Instance;

#[test]
fn init_prints_a_key_once_and_refuses_a_second_time() {
    let instance = Instance::sqlite();
    let (organization_id, secret) = instance.init();
    assert!(secret.starts_with("rampart_") && secret.len() > 40);
    assert_eq!(organization_id.len(), 36);

    let again = instance.run(&["init", "--organization", "Other", "--email", "o@x.example"], None);
    assert!(!again.status.success());
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(message.contains("already initialized"), "{message}");
    // The secret is stored only as a hash.
    let database = std::fs::read(instance.database_path()).unwrap_or_default();
    let wal = std::fs::read(instance.database_path().with_extension("db-wal")).unwrap_or_default();
    let needle = secret.as_bytes();
    for bytes in [database, wal] {
        assert!(!bytes.windows(needle.len()).any(|window| window == needle));
    }
}

#[test]
fn init_with_a_password_from_stdin_enforces_the_policy() {
    let instance = Instance::sqlite();
    let arguments = ["init", "--organization", "P", "--email", "o@p.example", "--password-stdin"];
    let short = instance.run(&arguments, Some("too short\n"));
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 15 characters"));
    let good = instance.run(&arguments, Some("correct horse battery staple\n"));
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert!(String::from_utf8_lossy(&good.stdout).contains("secret:"));
}

#[test]
fn migrate_applies_and_is_repeatable() {
    let instance = Instance::sqlite();
    for _ in 0..2 {
        let output = instance.run(&["migrate"], None);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert!(crate::testkit::exists(&instance.database_path()));
}

#[test]
fn a_bad_configuration_stops_start_up_and_names_the_key() {
    let instance = Instance::sqlite();
    let config = instance.directory.path().join("rampart.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\n[http]\nmax_body = 3\n").unwrap();
    let output = instance.run(&["serve", "--config", config.to_str().unwrap()], None);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("max_body") && message.contains("unknown field"), "{message}");

    let mut instance = Instance::sqlite();
    instance.environment.push(("RAMPART_DATABASE_URL".into(), "mysql://x".into()));
    let output = instance.run(&["serve"], None);
    assert!(String::from_utf8_lossy(&output.stderr).contains("database_url"));
}

#[test]
fn help_reads_well() {
    let output = Instance::sqlite().run(&["--help"], None);
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "init", "migrate"] {
        assert!(text.contains(command), "{text}");
    }
}
