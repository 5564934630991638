//! `mig agents`: which agents the platform knows, optionally those a target selects.

use crate::exit;
use mig_client::api::Client;
use mig_client::config::Config;

pub fn run(
    config: &Config,
    target: Option<&str>,
    status: Option<&str>,
    json: bool,
) -> anyhow::Result<u8> {
    let client = Client::from_config(config)?;
    let mut q = vec![("limit", "10000".to_string())];
    if let Some(t) = target {
        q.push(("target", config.target(t)));
    }
    if let Some(s) = status {
        q.push(("status", s.to_string()));
    }
    let agents = client.agents(&q)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&agents)?);
    } else {
        let rows: Vec<Vec<String>> = agents
            .iter()
            .map(|a| {
                vec![
                    a.id.to_string(),
                    a.name.clone(),
                    a.status.to_string(),
                    format!("{}/{}", a.os_family(), a.environment.arch),
                    a.version.clone(),
                    super::output::when(&a.heartbeatts),
                    a.queueloc.clone(),
                ]
            })
            .collect();
        let header = [
            "ID",
            "NAME",
            "STATUS",
            "OS",
            "VERSION",
            "HEARTBEAT (UTC)",
            "QUEUELOC",
        ];
        for line in super::output::columns(&header, &rows) {
            println!("{line}");
        }
        eprintln!("{} agent(s)", agents.len());
    }
    Ok(if agents.is_empty() {
        exit::NOT_FOUND
    } else {
        exit::FOUND
    })
}
