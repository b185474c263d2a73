//! Flow `concurrency` (`limit`, `behavior: QUEUE | CANCEL | FAIL`): when an execution is
//! started while `limit` executions of its flow are already under way (running, paused...: not
//! terminated and not themselves queued), it is QUEUED until one ends, or ends CANCELLED or
//! FAILED at once without any task run, as Kestra's executor does.
//!
//! One process counts the executions it holds in memory. Executors sharing an inbox count
//! them for the whole cluster with the inbox's slots ([`ExecutorQueue::take_slot`]): an
//! execution takes a slot (or a queue place) before its admission is saved, frees it when it
//! ends, and a queued execution starts when the slot freed by any executor is given to it
//! ([`InboxMessage::Dequeued`](crate::inbox::InboxMessage::Dequeued), delivered to its
//! owner). The slot table is the truth: executions loaded at a take-over take their slot again
//! (the same answer when they hold one), and ended ones free theirs (their executor may have
//! died between the end and the free).

use std::sync::Arc;

use saker_core::{Execution, ExecutionId, StateType};
use saker_flow::{ConcurrencyBehavior, Flow};
use saker_storage::{Changed, Store};

use crate::inbox::{ExecutorQueue, FlowSlots, Slot, SlotMode};

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

    /// The cluster's slots of `flow`, in executor mode when the flow has a limit.
    fn slots<'a>(&'a self, flow: &'a Flow) -> Option<(&'a dyn ExecutorQueue, FlowSlots<'a>)> {
        let membership = self.rt.inbox.as_ref()?;
        let concurrency = flow.concurrency.as_ref()?;
        let slots = FlowSlots {
            namespace: &flow.namespace,
            flow_id: &flow.id,
            limit: concurrency.limit,
        };
        Some((&*membership.queue, slots))
    }

    /// Decides (and records in the execution's state) whether a CREATED execution may start.
    /// In executor mode the decision is the cluster's slot, taken now (committed before the
    /// admission is saved: a crash in between leaves a slot the next owner finds again).
    pub(crate) async fn admit(
        &self,
        flow: &Flow,
        execution: &mut Execution,
    ) -> Result<Admission, RuntimeError> {
        let Some(concurrency) = &flow.concurrency else {
            return Ok(Admission::Start);
        };
        let free = match self.slots(flow) {
            Some((queue, slots)) => {
                let mode = match concurrency.behavior {
                    ConcurrencyBehavior::Queue => SlotMode::Queue,
                    _ => SlotMode::Refuse,
                };
                queue.take_slot(slots, execution.id.as_str(), mode).await? == Slot::Running
            }
            None => self.under_way(&flow.namespace, &flow.id) < concurrency.limit as usize,
        };
        if free {
            return Ok(Admission::Start);
        }
        let now = host::now();
        Ok(match concurrency.behavior {
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
        })
    }

    /// Gives back the slots taken for executions whose admission could not be saved.
    pub(crate) async fn forget_slots(&self, admitted: &[(Arc<Flow>, ExecutionId)]) {
        for (flow, id) in admitted {
            if let Some((queue, slots)) = self.slots(flow)
                && let Err(error) = queue.free_slot(slots, id.as_str()).await
            {
                eprintln!(
                    "warning: freeing the concurrency slot of {}: {error}",
                    id.as_str()
                );
            }
        }
    }

    /// Execution `id` ended: its slot goes to the oldest queued execution of its flow (in
    /// executor mode, on any executor).
    pub(crate) async fn slot_freed(&mut self, id: &ExecutionId) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get(id) else {
            return Ok(());
        };
        if let Some((queue, slots)) = self.slots(&live.flow) {
            let given = queue.free_slot(slots, id.as_str()).await?;
            let key = (
                live.execution.namespace.clone(),
                live.execution.flow_id.clone(),
            );
            // Ended while queued (killed, unqueued): it waits no more.
            if let Some(waiting) = self.queued.get_mut(&key) {
                waiting.retain(|queued| queued != id);
            }
            // Given to an execution held here: it starts now rather than when its `Dequeued`
            // message comes back (which then finds it started).
            for next in given {
                self.slot_given(&ExecutionId::from(next)).await?;
            }
            return Ok(());
        }
        if queues(&live.flow) {
            let (namespace, flow_id) = (
                live.execution.namespace.clone(),
                live.execution.flow_id.clone(),
            );
            self.dequeue(&namespace, &flow_id).await?;
        }
        Ok(())
    }

    /// Executor mode: execution `id` runs whatever the limit (an unqueue into RUNNING, a
    /// restart): it holds a slot until it ends again.
    pub(crate) async fn hold_slot(&self, id: &ExecutionId) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get(id) else {
            return Ok(());
        };
        if let Some((queue, slots)) = self.slots(&live.flow) {
            queue.take_slot(slots, id.as_str(), SlotMode::Force).await?;
        }
        Ok(())
    }

    /// [`InboxMessage::Dequeued`](crate::inbox::InboxMessage::Dequeued): the slot freed by
    /// another execution's end was given to `id`; it starts if still QUEUED.
    pub(crate) async fn slot_given(&mut self, id: &ExecutionId) -> Result<(), RuntimeError> {
        let queued = self
            .lives
            .get(id)
            .is_some_and(|live| live.execution.state.current() == StateType::Queued);
        if queued {
            for queue in self.queued.values_mut() {
                queue.retain(|queued| queued != id);
            }
            self.start_queued(id).await?;
        }
        Ok(())
    }

    /// Executor mode, on executions just loaded from the store (a take-over, a message to an
    /// execution not in memory): ended ones free their slot (their executor may have died
    /// before it did), ones never started are admitted (again: a slot taken before a crash
    /// is found again), the others hold theirs (running whatever the limit, as they were).
    /// Queued ones are left to [`Driver::dequeue`].
    pub(crate) async fn reclaim_slots(&mut self, ids: &[ExecutionId]) -> Result<(), RuntimeError> {
        for id in ids {
            let Some(live) = self.lives.get(id) else {
                continue;
            };
            if self.slots(&live.flow).is_none() {
                continue;
            }
            let state = live.execution.state.current();
            if live.ended || state.is_terminated() {
                self.slot_freed(id).await?;
            } else if state == StateType::Created && live.execution.task_run_list.is_empty() {
                self.readmit(id).await?;
            } else if state != StateType::Queued {
                self.hold_slot(id).await?;
            }
        }
        Ok(())
    }

    /// Admits a loaded CREATED execution; one that must wait or end is saved so, and
    /// [`Driver::resume_one`] then leaves it be.
    async fn readmit(&mut self, id: &ExecutionId) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get(id) else {
            return Ok(());
        };
        let (flow, mut execution) = (live.flow.clone(), live.execution.clone());
        let admission = self.admit(&flow, &mut execution).await?;
        if matches!(admission, Admission::Start) {
            return Ok(());
        }
        self.rt
            .store
            .save_execution(&execution, &Changed::TaskRuns(Vec::new()))
            .await?;
        if let Some(hub) = &self.hub {
            hub.saved(
                Some(StateType::Created),
                &execution,
                &Changed::TaskRuns(Vec::new()),
            );
        }
        if let Some(live) = self.lives.get_mut(id) {
            live.execution = execution;
        }
        if let Admission::Refused(state) = admission {
            self.ended(id, state).await?;
        }
        Ok(())
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
        if self.rt.inbox.is_some() {
            return self.dequeue_cluster(&key).await;
        }
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

    /// Executor mode: the queued executions of the flow held here that hold a slot now (given
    /// while nobody owned them, or after a take-over) start; the others keep waiting for
    /// their `Dequeued` message.
    async fn dequeue_cluster(&mut self, key: &(String, String)) -> Result<(), RuntimeError> {
        let waiting: Vec<ExecutionId> = self
            .queued
            .get(key)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default();
        for id in waiting {
            let Some(live) = self.lives.get(&id) else {
                continue;
            };
            if live.execution.state.current() != StateType::Queued {
                continue;
            }
            let Some((queue, slots)) = self.slots(&live.flow) else {
                continue;
            };
            if queue.take_slot(slots, id.as_str(), SlotMode::Queue).await? == Slot::Running {
                self.slot_given(&id).await?;
            }
        }
        if let Some(queue) = self.queued.get_mut(key) {
            let lives = &self.lives;
            queue.retain(|id| {
                lives
                    .get(id)
                    .is_some_and(|live| live.execution.state.current() == StateType::Queued)
            });
        }
        Ok(())
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
            self.hold_slot(id).await?;
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
