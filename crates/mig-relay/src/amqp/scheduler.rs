//! The schedulers' end of the AMQP relay: publishing commands to agents' queues, and
//! consuming the shared results and heartbeats queues (competing consumers: each message goes
//! to one scheduler, and stays in the queue until that scheduler acknowledges it).

use super::{
    agent_queue, connect, declare_scheduler_queues, declare_topology, AmqpError, AmqpSettings,
    EXCHANGE_AGENTS,
};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::PublisherConfirm;
use lapin::{BasicProperties, Channel, Connection, Consumer};

pub struct SchedulerLink {
    pub conn: Connection,
    publisher: Channel,
}

pub async fn connect_scheduler(
    settings: &AmqpSettings,
    name: &str,
) -> Result<SchedulerLink, AmqpError> {
    let conn = connect(settings, name).await?;
    let publisher = conn.create_channel().await?;
    declare_topology(&publisher).await?;
    declare_scheduler_queues(&publisher).await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(SchedulerLink { conn, publisher })
}

impl SchedulerLink {
    /// Publishes a command to an agent's queue: persistent, and expiring with its action, so
    /// that an agent back after the expiry never sees it. Returns the confirmation to await.
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
            .publisher
            .basic_publish(
                EXCHANGE_AGENTS.into(),
                agent_queue(queueloc).as_str().into(),
                BasicPublishOptions::default(),
                command_json.as_bytes(),
                props,
            )
            .await?)
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
