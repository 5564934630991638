//! PostgreSQL and RabbitMQ for the scale-out tests: each test gets its own schema and its
//! own virtual host on the services named by `MIG_TEST_DATABASE_URL` and `MIG_TEST_AMQP_URL`,
//! so tests run in parallel without seeing each other's rows or queues.

use std::path::Path;
use std::process::Command;

/// A fresh PostgreSQL schema, as a database URL whose search_path points at it; `None` (and
/// a note on stderr) when `MIG_TEST_DATABASE_URL` is not set.
pub fn postgres_schema() -> Option<String> {
    let Ok(base) = std::env::var("MIG_TEST_DATABASE_URL") else {
        eprintln!("MIG_TEST_DATABASE_URL not set: skipped");
        return None;
    };
    let schema = format!("mig_e2e_{}", mig_core::id::generate());
    let create = async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&base).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await?;
        conn.close().await
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(create)
        .unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-csearch_path%3D{schema}"))
}

/// A RabbitMQ virtual host of its own, deleted on drop (with the users made for it).
pub struct Vhost {
    pub name: String,
    /// `MIG_TEST_AMQP_URL` with this virtual host.
    pub url: String,
    users: std::sync::Mutex<Vec<String>>,
}

impl Vhost {
    /// `None` (and a note on stderr) when `MIG_TEST_AMQP_URL` is not set.
    pub fn create() -> Option<Vhost> {
        let Ok(base) = std::env::var("MIG_TEST_AMQP_URL") else {
            eprintln!("MIG_TEST_AMQP_URL not set: skipped");
            return None;
        };
        let name = format!("mig-e2e-{}", mig_core::id::generate());
        let user = base
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once(['@', ':']))
            .map_or("guest", |(user, _)| user)
            .to_string();
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, &user, ".*", ".*", ".*"]);
        let root = base.rsplit_once('/').map_or(base.as_str(), |(r, _)| r);
        Some(Vhost {
            url: format!("{root}/{name}"),
            name,
            users: Default::default(),
        })
    }

    /// This virtual host's URL for another user.
    pub fn url_for(&self, user: &str, password: &str) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        format!("{scheme}://{user}:{password}@{host}")
    }

    /// Runs deploy/rabbitmq-setup.sh on this virtual host; the users it makes are deleted with
    /// the virtual host. Returns the URL it prints (with the broker's address from
    /// `MIG_TEST_AMQP_URL`, and amqp:// since the test broker has no TLS).
    pub fn setup(&self, args: &[&str]) -> String {
        let out = self.run_setup(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "rabbitmq-setup.sh {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = stdout
            .split_whitespace()
            .find(|w| w.starts_with("amqps://"))
            .unwrap_or_else(|| panic!("no URL in {stdout}"));
        let creds = printed["amqps://".len()..].rsplit_once('@').unwrap().0;
        let (user, password) = creds.split_once(':').unwrap();
        self.users.lock().unwrap().push(user.to_string());
        self.url_for(user, password)
    }
}

impl Vhost {
    /// Runs deploy/rabbitmq-setup.sh on this virtual host, whatever it answers.
    pub fn run_setup(&self, args: &[&str]) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rabbitmq-setup.sh");
        Command::new("sh")
            .arg(script)
            .args(["--vhost", &self.name])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        for user in self.users.lock().unwrap().iter() {
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "delete_user", user])
                .output();
        }
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.name])
            .output();
    }
}

/// Runs `rabbitmqctl` (the broker is local to the tests); panics with its output on failure.
pub fn rabbitmqctl(args: &[&str]) {
    rabbitmqctl_output(args);
}

/// The same, returning what it printed.
pub fn rabbitmqctl_output(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("rabbitmqctl (needed for the AMQP tests): {e}"));
    assert!(
        out.status.success(),
        "rabbitmqctl {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
