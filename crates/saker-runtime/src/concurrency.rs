//! Flow `concurrency` (`limit`, `behavior: QUEUE | CANCEL | FAIL`): when an execution is
//! started while `limit` executions of its flow are already under way (running, paused...: not
//! terminated and not themselves queued), it is QUEUED until one ends, or ends CANCELLED or
//! FAILED at once without any task run, as Kestra's executor does.

use std::sync::Arc;

use saker_core::{Execution, ExecutionId, StateType};
use saker_flow::{ConcurrencyBehavior, Flow};
use saker_storage::{Changed, Store};

use crate::service::ControlError;
use crate::{Driver, RuntimeError, host};

/// The states Kestra lets an unqueued execution take.
const UNQUEUE_TARGETS: [StateType; 3] =
    [StateType::Running, StateType::Cancelled, StateType::Failed];

/// What to do with a new execution.
pub(crate) enum Admission {
    Start,
    Queued,
    /// Ended at once in this state.
    Refused(StateType),
}

impl<S: Store> Driver<S> {
    /// Executions of `(namespace, flow)` under way, queued ones excluded.
    fn under_way(&self, namespace: &str, flow_id: &str) -> usize {
        self.lives
            .values()
            .filter(|live| {
                !live.ended
                    && live.execution.flow_id == flow_id
                    && live.execution.namespace == namespace
                    && !matches!(live.execution.state.current(), StateType::Queued)
                    && !live.execution.state.is_terminated()
            })
            .count()
    }

    /// Decides (and records in the execution's state) whether a CREATED execution may start.
    pub(crate) fn admit(&self, flow: &Flow, execution: &mut Execution) -> Admission {
        let Some(concurrency) = &flow.concurrency else {
            return Admission::Start;
        };
        if self.under_way(&flow.namespace, &flow.id) < concurrency.limit as usize {
            return Admission::Start;
        }
        let now = host::now();
        match concurrency.behavior {
            ConcurrencyBehavior::Queue => {
                execution.state.transition(StateType::Queued, now);
                Admission::Queued
            }
            ConcurrencyBehavior::Cancel => {
                execution.state.transition(StateType::Cancelled, now);
                Admission::Refused(StateType::Cancelled)
            }
            ConcurrencyBehavior::Fail => {
                execution.state.transition(StateType::Failed, now);
                Admission::Refused(StateType::Failed)
            }
        }
    }

    pub(crate) fn enqueue(&mut self, execution: &Execution) {
        let key = (execution.namespace.clone(), execution.flow_id.clone());
        self.queued
            .entry(key)
            .or_default()
            .push_back(execution.id.clone());
    }

    /// Starts the oldest queued executions of the flow while its limit allows.
    pub(crate) async fn dequeue(
        &mut self,
        namespace: &str,
        flow_id: &str,
    ) -> Result<(), RuntimeError> {
        let key = (namespace.to_owned(), flow_id.to_owned());
        loop {
            let Some(next) = self.queued.get(&key).and_then(|q| q.front().cloned()) else {
                return Ok(());
            };
            let limit = self
                .lives
                .get(&next)
                .and_then(|live| live.flow.concurrency.as_ref())
                .map(|c| c.limit as usize);
            let still_queued = self
                .lives
                .get(&next)
                .is_some_and(|live| live.execution.state.current() == StateType::Queued);
            if still_queued
                && limit.is_some_and(|limit| self.under_way(namespace, flow_id) >= limit)
            {
                return Ok(());
            }
            if let Some(queue) = self.queued.get_mut(&key) {
                queue.pop_front();
            }
            if !still_queued {
                // Killed (or otherwise ended) while waiting.
                continue;
            }
            self.start_queued(&next).await?;
        }
    }

    /// [`Control::Unqueue`](crate::service::Control::Unqueue): `id` leaves its flow's queue
    /// into `target` (`RUNNING`: it starts now, over the limit if need be; `CANCELLED` or
    /// `FAILED`: it ends without any task run), as Kestra's unqueue. Returns the execution
    /// right after its change of state (Kestra answers before the executor moves it on).
    pub(crate) async fn unqueue(
        &mut self,
        id: &ExecutionId,
        target: StateType,
    ) -> Result<Execution, ControlError> {
        let current = self
            .lives
            .get(id)
            .map(|live| live.execution.state.current())
            .ok_or_else(|| ControlError::NotFound(id.as_str().to_owned()))?;
        check_unqueue(current, target)?;
        for queue in self.queued.values_mut() {
            queue.retain(|queued| queued != id);
        }
        let gone = || ControlError::NotFound(id.as_str().to_owned());
        if target == StateType::Running {
            self.start_queued(id).await?;
            let started = self.lives.get(id).ok_or_else(gone)?.execution.clone();
            self.handle_pending().await?;
            return Ok(started);
        }
        let live = self.lives.get_mut(id).ok_or_else(gone)?;
        live.execution.state.transition(target, host::now());
        self.rt
            .store
            .save_execution(&live.execution, &Changed::TaskRuns(Vec::new()))
            .await
            .map_err(RuntimeError::from)?;
        if let Some(hub) = &self.hub {
            hub.saved(
                Some(current),
                &live.execution,
                &Changed::TaskRuns(Vec::new()),
            );
        }
        let ended = live.execution.clone();
        self.ended(id, target).await?;
        Ok(ended)
    }

    async fn start_queued(&mut self, id: &ExecutionId) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get_mut(id) else {
            return Ok(());
        };
        // QUEUED → RUNNING, then the engine schedules the first tasks.
        let before = live.execution.state.current();
        live.execution
            .state
            .transition(StateType::Running, host::now());
        self.rt
            .store
            .save_execution(&live.execution, &Changed::TaskRuns(Vec::new()))
            .await?;
        if let Some(hub) = &self.hub {
            hub.saved(
                Some(before),
                &live.execution,
                &Changed::TaskRuns(Vec::new()),
            );
        }
        self.pending
            .push_back((id.clone(), saker_engine::Event::Created));
        Ok(())
    }
}

/// Flows whose executions may wait in a queue.
pub(crate) fn queues(flow: &Arc<Flow>) -> bool {
    flow.concurrency
        .as_ref()
        .is_some_and(|c| c.behavior == ConcurrencyBehavior::Queue)
}

/// Why an execution in `current` cannot be unqueued into `target` (Kestra's messages).
pub(crate) fn check_unqueue(current: StateType, target: StateType) -> Result<(), ControlError> {
    if current != StateType::Queued {
        return Err(ControlError::WrongState(format!(
            "Cannot unqueue execution: only QUEUED executions can be unqueued (state {current})"
        )));
    }
    if !UNQUEUE_TARGETS.contains(&target) {
        return Err(ControlError::Invalid(format!(
            "Invalid target state: {target}. Valid states are: RUNNING, CANCELLED, FAILED"
        )));
    }
    Ok(())
}
