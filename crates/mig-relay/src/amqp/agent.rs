//! The agent's end of the AMQP relay: its own durable queue, and signed publications.

use super::{
    agent_queue, connect, AmqpError, AmqpSettings, SignedMessage, EXCHANGE_AGENTS,
    EXCHANGE_SCHEDULERS,
};
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, Consumer};
use std::sync::Arc;

/// Where commands arrive.
pub struct AgentCommands {
    consumer: Consumer,
}

/// Where results and heartbeats leave (cheap to clone; keeps the connection open).
#[derive(Clone)]
pub struct AgentPublisher {
    _conn: Arc<Connection>,
    channel: Channel,
}

/// Connects, declares the agent's queue `mig.agt.<queueloc>` (durable: commands wait there
/// while the agent is away) bound to `toagents`, and starts consuming it.
pub async fn connect_agent(
    settings: &AmqpSettings,
    queueloc: &str,
) -> Result<(AgentCommands, AgentPublisher), AmqpError> {
    let conn = connect(settings, &format!("mig-agent {queueloc}")).await?;
    attach_agent(Arc::new(conn), queueloc).await
}

/// The same on an open connection, which several agents may share (the swarm benchmark
/// does: a real agent has its own).
pub async fn attach_agent(
    conn: Arc<Connection>,
    queueloc: &str,
) -> Result<(AgentCommands, AgentPublisher), AmqpError> {
    let channel = conn.create_channel().await?;
    // The exchanges and the schedulers' queues are the schedulers' to declare: an agent's
    // RabbitMQ user may configure nothing but its own queue (deploy/rabbitmq-setup.sh).
    let queue = agent_queue(queueloc);
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            // Default classic queue (no x-queue-version 2): CQv2 keeps a file descriptor open
            // per queue, and a fleet of thousands of queues exhausts the broker's fd limit
            // (`emfile`), after which queues crash and vhost operations hang.
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.as_str().into(),
            EXCHANGE_AGENTS.into(),
            queue.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| {
            AmqpError::Protocol(format!(
                "cannot bind {queue} to the {EXCHANGE_AGENTS} exchange (schedulers declare it: \
                 has one connected to this virtual host yet?): {e}"
            ))
        })?;
    // No acknowledgements: the broker forgets a command once it has sent it to the agent, whose
    // gate remembers it from then on (and refuses a replay). MIG's agents acknowledge each
    // command as soon as it arrives, which adds one guarantee: a command in flight when the
    // connection breaks is delivered again. It costs the broker, for each command to each
    // agent, writing the message to the queue's files and syncing them before confirming it
    // to the scheduler, then the acknowledgement: most of its work in a fan-out
    // (BENCHMARKS.md). Commands waiting for an agent that is away are still written to disk
    // and survive a broker restart; one lost in flight shows as that agent's command
    // unanswered until the action expires (docs/compat.md).
    let consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "mig-agent".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    // Results and heartbeats leave on the same channel (as MIG's agents send them): a second
    // channel per agent would be two more broker processes (channel and writer) to wake for
    // every command, across the whole fleet.
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok((
        AgentCommands { consumer },
        AgentPublisher {
            _conn: conn,
            channel,
        },
    ))
}

impl AgentCommands {
    /// The next command, as the scheduler published it; `None` when the broker closed the
    /// connection.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, AmqpError> {
        match self.consumer.next().await {
            Some(Ok(d)) => Ok(Some(d.data)),
            Some(Err(e)) => Err(e.into()),
            None => Ok(None),
        }
    }
}

impl AgentPublisher {
    /// Publishes to the schedulers and waits for the broker's confirmation (then the message
    /// is in a durable queue, the broker's to keep).
    pub async fn publish(
        &self,
        routing_key: &str,
        message: &SignedMessage,
        persistent: bool,
    ) -> Result<(), AmqpError> {
        let body = serde_json::to_vec(message).map_err(|e| AmqpError::Protocol(e.to_string()))?;
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(if persistent { 2 } else { 1 });
        let confirm = self
            .channel
            .basic_publish(
                EXCHANGE_SCHEDULERS.into(),
                routing_key.into(),
                // Returned, not silently dropped, when no queue takes it.
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &body,
                props,
            )
            .await?
            .await?;
        if confirm.is_nack() {
            return Err(AmqpError::Protocol("the broker refused the message".into()));
        }
        if confirm.take_message().is_some() {
            return Err(AmqpError::Protocol(format!(
                "no queue for {routing_key} yet (schedulers declare it when they connect)"
            )));
        }
        Ok(())
    }
}
