//! The schedulers' end of the AMQP relay: publishing commands to agents' queues, and
//! consuming the shared results and heartbeats queues (competing consumers: each message goes
//! to one scheduler, and stays in the queue until that scheduler acknowledges it).

use super::{
    agent_queue, connect, declare_scheduler_queues, declare_shared_queue, declare_topology,
    AmqpError, AmqpSettings, RUNS_KEY,
};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::PublisherConfirm;
use lapin::{BasicProperties, Channel, Connection, Consumer};

/// Channels commands are published on. Each agent's queue is always published to on the same
/// one (chosen by its name), so the broker's channel processes share the fleet instead of one
/// of them tracking every agent queue: with 10,000 agents, that one channel process was the
/// broker's busiest, its state (a queue record and a monitor per agent queue) large and slow
/// to garbage-collect.
const PUBLISHING_CHANNELS: usize = 4;

/// AMQP's default exchange: it routes a message to the queue its routing key names.
const DEFAULT_EXCHANGE: &str = "";

/// A scheduler's connection to the broker, with its publishing channels.
pub struct SchedulerLink {
    /// The connection; consumers open their channels on it.
    pub conn: Connection,
    publishers: Vec<Channel>,
    /// Why the scheduled runs' queue could not be declared (a broker user set up before
    /// schedules existed has no permission on it), if it could not: everything else works.
    pub runs_unavailable: Option<String>,
}

/// Connects a scheduler: declares MIG's exchanges and the schedulers' shared queues, and opens
/// the publishing channels, in confirm mode.
pub async fn connect_scheduler(
    settings: &AmqpSettings,
    name: &str,
) -> Result<SchedulerLink, AmqpError> {
    let conn = connect(settings, name).await?;
    let setup = conn.create_channel().await?;
    declare_topology(&setup).await?;
    declare_scheduler_queues(&setup).await?;
    let _ = setup.close(200, "topology declared".into()).await;
    // On a channel of its own: a refusal closes the channel it happens on.
    let runs = conn.create_channel().await?;
    let runs_unavailable = declare_shared_queue(&runs, RUNS_KEY)
        .await
        .err()
        .map(|e| e.to_string());
    let _ = runs.close(200, "runs queue declared".into()).await;
    let mut publishers = Vec::with_capacity(PUBLISHING_CHANNELS);
    for _ in 0..PUBLISHING_CHANNELS {
        let publisher = conn.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        publishers.push(publisher);
    }
    Ok(SchedulerLink {
        conn,
        publishers,
        runs_unavailable,
    })
}

impl SchedulerLink {
    /// Publishes a command to an agent's queue: persistent, and expiring with its action, so
    /// that an agent back after the expiry never sees it. Returns the confirmation to await.
    ///
    /// Straight to the queue, through the default exchange, rather than through `toagents`,
    /// which agents bind their queues to (as MIG's do) and which routes to the same queue: the
    /// default exchange names the queue without a lookup, where the topic exchange matches
    /// every routing key against the fleet's bindings: more than half of what the broker's
    /// publishing channels spent per command (BENCHMARKS.md). The scheduler's RabbitMQ user
    /// needs write access to `amq.default` (deploy/rabbitmq-setup.sh).
    pub async fn publish_command(
        &self,
        queueloc: &str,
        command_json: &str,
        ttl_ms: i64,
    ) -> Result<PublisherConfirm, AmqpError> {
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_expiration(ttl_ms.max(1).to_string().into());
        Ok(self
            .publisher_for(queueloc)
            .basic_publish(
                DEFAULT_EXCHANGE.into(),
                agent_queue(queueloc).as_str().into(),
                BasicPublishOptions::default(),
                command_json.as_bytes(),
                props,
            )
            .await?)
    }

    /// The channel that publishes to this agent's queue: always the same one (a hash of the
    /// queueloc), so each channel process in the broker knows a share of the agent queues.
    fn publisher_for(&self, queueloc: &str) -> &Channel {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        queueloc.hash(&mut hasher);
        &self.publishers[hasher.finish() as usize % self.publishers.len()]
    }

    /// Consumes a shared queue, `prefetch` unacknowledged messages at a time.
    pub async fn consume(
        &self,
        queue: &str,
        prefetch: u16,
        tag: &str,
    ) -> Result<Consumer, AmqpError> {
        let channel = self.conn.create_channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        Ok(channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?)
    }
}
