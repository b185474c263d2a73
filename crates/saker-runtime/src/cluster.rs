//! Several processes on one database: the executor mode of the loop and the remote mode of the
//! service (see [`crate::inbox`] for the ownership rules).
//!
//! **Executor mode** ([`Runtime::with_inbox`]): the loop does not resume the whole store at
//! start. A pump claims its inbox messages (woken by the inbox, with a slow fallback poll) and
//! hands them to the loop: `Submit` loads the execution saved by the poster and starts it,
//! `Control` is applied as a local control, `ChildEnded` completes a Subflow run from the
//! child's stored end, `Dequeued` starts a QUEUED execution its flow's slot was given to.
//! Messages are acknowledged once the change they caused is committed, so the executor that
//! takes over a dead one's executions gets the messages it claimed and never applied. Every third of the lease a task beside the loop renews its leases
//! (executions it holds but no longer owns — its lease ended and another executor took them —
//! leave its memory) and takes over executions whose owner's lease ended, resuming them
//! exactly as a restart does. Children and replays it creates are owned before they are saved; ended
//! executions are released when they leave memory. After each turn it publishes a note per
//! saved execution (id and state) and per log line.
//!
//! **Remote mode** ([`crate::service::Service::remote`]): `submit` saves the CREATED execution
//! and posts `Submit`; `control` checks the request against the stored execution (the same
//! errors as the loop), posts it, and answers with the execution once its owner saved the
//! change (or the stored one after [`CONTROL_WAIT`]). The broadcasts are rebuilt from the
//! notes: each note re-reads the execution from the store (only when someone listens), so a
//! transition is reported once per state seen, and intermediate states saved in one turn of
//! the executor may be skipped. Notes sent while the listener was reconnecting are lost:
//! waiters and followers recover by re-reading the store (they already do when they lag).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use saker_core::{Execution, ExecutionId, StateType};
use saker_storage::{Changed, Store};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc::UnboundedSender;

use crate::inbox::{Delivery, ExecutorInfo, ExecutorQueue, InboxMessage, Note};
use crate::queue::FALLBACK_POLL;
use crate::service::{Control, ControlError, Hub, Service, as_restarted, control_event};
use crate::{Driver, Msg, Runtime, RuntimeError};

/// How long a remote control waits for the owner to save the change before answering with
/// the stored execution.
pub const CONTROL_WAIT: Duration = Duration::from_secs(5);

/// How many messages one claim takes.
const CLAIM_BATCH: usize = 256;

/// How many executions one take-over loads.
const REAP_BATCH: usize = 64;

/// A log line's message is cut to this many bytes in a note (PostgreSQL notifications are
/// limited to 8000 bytes); the store keeps it whole.
const NOTE_MESSAGE_BYTES: usize = 4000;

/// This executor among the others.
pub(crate) struct Membership {
    pub(crate) queue: Arc<dyn ExecutorQueue>,
    pub(crate) info: ExecutorInfo,
    pub(crate) lease: Duration,
    /// Wakes the claimer when executions were taken over: their messages became claimable
    /// without any new message (no notification), so waiting for the fallback poll would
    /// delay them.
    pub(crate) nudge: tokio::sync::Notify,
}

/// What the inbox side sends the loop.
pub(crate) enum InboxMsg {
    Claimed(Vec<Delivery>),
    /// Executions this executor owned at the last renewal and no longer owns: taken over by
    /// another executor (its lease ended), or released.
    Lost(Vec<ExecutionId>),
    /// Executions this executor just took over.
    Reaped(Vec<ExecutionId>),
}

impl<S: Store> Runtime<S> {
    /// Executor mode: this runtime's service is one executor among several sharing `inbox`
    /// (its id and host in `info`; its executions are taken over by the others when it has
    /// not renewed them for `lease`).
    #[must_use]
    pub fn with_inbox(
        mut self,
        inbox: Arc<dyn ExecutorQueue>,
        info: ExecutorInfo,
        lease: Duration,
    ) -> Self {
        self.inbox = Some(Arc::new(Membership {
            queue: inbox,
            info,
            lease: lease.max(Duration::from_millis(30)),
            nudge: tokio::sync::Notify::new(),
        }));
        self
    }

    /// The executor id, in executor mode.
    pub fn executor_id(&self) -> Option<&str> {
        self.inbox.as_ref().map(|m| m.info.id.as_str())
    }
}

/// Registers the executor and starts its inbox pump, lease ticker and note publisher.
pub(crate) async fn start_executor(
    membership: Arc<Membership>,
    tx: UnboundedSender<Msg>,
    hub: &Hub,
) -> Result<(), RuntimeError> {
    membership
        .queue
        .heartbeat(&membership.info, membership.lease)
        .await?;
    tokio::spawn(pump_inbox(membership.clone(), tx.clone()));
    tokio::spawn(keep_alive(membership.clone(), tx.clone()));
    tokio::spawn(publish(
        membership.queue.clone(),
        hub.deltas_receiver(),
        hub.logs_receiver(),
        tx,
    ));
    Ok(())
}

/// Claims inbox messages and hands them to the loop until it stops.
async fn pump_inbox(membership: Arc<Membership>, tx: UnboundedSender<Msg>) {
    let mut wake = membership.queue.wake();
    let mut failing = false;
    loop {
        let claimed = membership
            .queue
            .claim(&membership.info.id, CLAIM_BATCH, membership.lease)
            .await;
        match claimed {
            Ok(deliveries) if !deliveries.is_empty() => {
                failing = false;
                let full = deliveries.len() == CLAIM_BATCH;
                if tx.send(Msg::Inbox(InboxMsg::Claimed(deliveries))).is_err() {
                    return;
                }
                if full {
                    continue;
                }
            }
            Ok(_) => failing = false,
            Err(error) => {
                if !failing {
                    eprintln!("error: claiming inbox messages: {error}");
                }
                failing = true;
            }
        }
        tokio::select! {
            _ = wake.changed() => {}
            () = membership.nudge.notified() => {}
            () = tokio::time::sleep(FALLBACK_POLL) => {}
            () = tx.closed() => return,
        }
    }
}

/// Renews the leases every third of the lease (apart from the loop, so a busy loop does not
/// lose them), reports executions another executor took since the last renewal (they were
/// owned then and are not now; released ones are not in memory any more, so the loop ignores
/// them), and takes over executions whose owner's lease ended.
async fn keep_alive(membership: Arc<Membership>, tx: UnboundedSender<Msg>) {
    let every = (membership.lease / 3).max(Duration::from_millis(10));
    let queue = &membership.queue;
    let mut owned: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = tx.closed() => return,
        }
        match queue.heartbeat(&membership.info, membership.lease).await {
            Ok(now) => {
                let now: HashSet<String> = now.into_iter().collect();
                let gone: Vec<ExecutionId> = owned.difference(&now).map(ExecutionId::new).collect();
                owned = now;
                if !gone.is_empty() && tx.send(Msg::Inbox(InboxMsg::Lost(gone))).is_err() {
                    return;
                }
            }
            Err(error) => eprintln!("error: renewing execution leases: {error}"),
        }
        match queue
            .reap(&membership.info.id, REAP_BATCH, membership.lease)
            .await
        {
            Ok(ids) if !ids.is_empty() => {
                membership.nudge.notify_one();
                owned.extend(ids.iter().cloned());
                let ids = ids.into_iter().map(ExecutionId::from).collect();
                if tx.send(Msg::Inbox(InboxMsg::Reaped(ids))).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => eprintln!("error: taking over executions: {error}"),
        }
    }
}

/// Publishes a note per saved execution and per log line, batching what is waiting.
async fn publish(
    queue: Arc<dyn ExecutorQueue>,
    mut deltas: tokio::sync::broadcast::Receiver<Arc<crate::service::ExecutionDelta>>,
    mut logs: tokio::sync::broadcast::Receiver<Arc<saker_storage::LogEntry>>,
    tx: UnboundedSender<Msg>,
) {
    let saved = |delta: &crate::service::ExecutionDelta| Note::Saved {
        execution_id: delta.header.id.as_str().to_owned(),
        state: delta.header.state.current(),
    };
    let logged = |entry: &saker_storage::LogEntry| {
        let mut entry = entry.clone();
        if entry.message.len() > NOTE_MESSAGE_BYTES {
            let mut end = NOTE_MESSAGE_BYTES;
            while !entry.message.is_char_boundary(end) {
                end -= 1;
            }
            entry.message.truncate(end);
        }
        Note::Log {
            entry: Box::new(entry),
        }
    };
    let mut failing = false;
    loop {
        let mut notes = Vec::new();
        tokio::select! {
            delta = deltas.recv() => match delta {
                Ok(delta) => notes.push(saved(&delta)),
                Err(RecvError::Lagged(_)) => notes.push(Note::Resync),
                Err(RecvError::Closed) => return,
            },
            entry = logs.recv() => match entry {
                Ok(entry) => notes.push(logged(&entry)),
                Err(RecvError::Lagged(_)) => notes.push(Note::Resync),
                Err(RecvError::Closed) => return,
            },
            () = tx.closed() => return,
        }
        while notes.len() < 512 {
            match deltas.try_recv() {
                Ok(delta) => notes.push(saved(&delta)),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    notes.push(Note::Resync);
                }
                Err(_) => break,
            }
        }
        while notes.len() < 1024 {
            match logs.try_recv() {
                Ok(entry) => notes.push(logged(&entry)),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    notes.push(Note::Resync);
                }
                Err(_) => break,
            }
        }
        // One note per execution per batch: listeners re-read the store anyway.
        let mut seen = HashSet::new();
        notes.retain(|note| match note {
            Note::Saved {
                execution_id,
                state,
            } => seen.insert((execution_id.clone(), *state)),
            _ => true,
        });
        match queue.publish(notes).await {
            Ok(()) => failing = false,
            Err(error) => {
                if !failing {
                    eprintln!("error: publishing execution changes: {error}");
                }
                failing = true;
            }
        }
    }
}

/// How many ended executions the remote side remembers, so an execution saved again after
/// its end is not reported as ended twice.
const REMEMBERED_ENDS: usize = 10_000;

/// Remote mode: rebuilds the service's broadcasts from the executors' notes.
pub(crate) async fn feed_remote<S: Store>(
    inbox: Arc<dyn ExecutorQueue>,
    store: Arc<S>,
    hub: Arc<Hub>,
) {
    let mut notes = inbox.notes();
    let mut states: HashMap<String, StateType> = HashMap::new();
    let mut ended: HashSet<String> = HashSet::new();
    let mut ended_order: VecDeque<String> = VecDeque::new();
    loop {
        let note = match notes.recv().await {
            Ok(note) => note,
            Err(RecvError::Lagged(n)) => {
                eprintln!("warning: {n} execution notes were missed (followers re-read)");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        match note {
            Note::Saved { execution_id, .. } => {
                if !hub.has_execution_listeners() {
                    continue;
                }
                let execution = match store.get_execution(&ExecutionId::new(&execution_id)).await {
                    Ok(Some(execution)) => execution,
                    Ok(None) => continue,
                    Err(error) => {
                        eprintln!("warning: reading execution {execution_id}: {error}");
                        continue;
                    }
                };
                let state = execution.state.current();
                if state.is_terminated() {
                    states.remove(&execution_id);
                } else {
                    ended.remove(&execution_id);
                }
                let changed = if state.is_terminated() {
                    !ended.contains(&execution_id)
                } else {
                    states.insert(execution_id.clone(), state) != Some(state)
                };
                if changed && hub.wants_transitions() {
                    hub.transition(Arc::new(execution.clone()));
                }
                hub.update(&execution);
                if state.is_terminated() && ended.insert(execution_id.clone()) {
                    hub.ended(&execution);
                    ended_order.push_back(execution_id);
                    if ended_order.len() > REMEMBERED_ENDS
                        && let Some(old) = ended_order.pop_front()
                    {
                        ended.remove(&old);
                    }
                }
            }
            Note::Log { entry } => hub.log(*entry),
            Note::Resync => {}
        }
    }
}

/// Remote `submit`: saves the CREATED execution, then posts it to the executors.
pub(crate) async fn submit_remote<S: Store>(
    rt: &Runtime<S>,
    inbox: &Arc<dyn ExecutorQueue>,
    execution: Execution,
) -> Result<(), ControlError> {
    rt.store
        .save_execution(&execution, &Changed::All)
        .await
        .map_err(RuntimeError::from)?;
    inbox
        .post(vec![(
            execution.id.as_str().to_owned(),
            InboxMessage::Submit,
        )])
        .await
        .map_err(RuntimeError::from)?;
    Ok(())
}

/// Remote `control`: checked against the stored execution, posted, answered with the
/// execution once its owner saved the change.
pub(crate) async fn control_remote<S: Store>(
    service: &Service<S>,
    id: &ExecutionId,
    control: Control,
) -> Result<Execution, ControlError> {
    let Some(inbox) = &service.remote else {
        return Err(ControlError::Stopped);
    };
    let store = service.runtime.store();
    let Some(before) = store.get_execution(id).await.map_err(RuntimeError::from)? else {
        return Err(ControlError::NotFound(id.as_str().to_owned()));
    };
    let event = control_event(&before, control.clone())?;
    let restart = matches!(event, Some((saker_engine::Event::RestartRequested, _)));
    // Subscribe before posting: the owner may save the change at once.
    let mut updates = service.updates();
    inbox
        .post(vec![(
            id.as_str().to_owned(),
            InboxMessage::Control {
                control,
                seen: Some(before.state.histories().len()),
            },
        )])
        .await
        .map_err(RuntimeError::from)?;
    let seen = before.state.histories().len();
    let runs: Vec<_> = before
        .task_run_list
        .iter()
        .map(|r| r.state.histories().len())
        .collect();
    let moved = |e: &Execution| {
        e.state.histories().len() != seen
            || e.task_run_list.len() != runs.len()
            || e.task_run_list
                .iter()
                .zip(&runs)
                .any(|(r, n)| r.state.histories().len() != *n)
    };
    let changed = tokio::time::timeout(CONTROL_WAIT, async {
        loop {
            match updates.recv().await {
                Ok(e) if e.id == *id && moved(&e) => return Some((*e).clone()),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten();
    let mut execution = match changed {
        Some(execution) => execution,
        None => store
            .get_execution(id)
            .await
            .map_err(RuntimeError::from)?
            .ok_or_else(|| ControlError::NotFound(id.as_str().to_owned()))?,
    };
    if restart {
        as_restarted(&mut execution);
    }
    Ok(execution)
}

impl<S: Store> Driver<S> {
    /// Handles what the inbox side sent (executor mode).
    pub(crate) async fn inbox_message(&mut self, message: InboxMsg) -> Result<(), RuntimeError> {
        if self.rt.inbox.is_none() {
            return Ok(());
        }
        match message {
            InboxMsg::Claimed(deliveries) => {
                let mut done = Vec::with_capacity(deliveries.len());
                let mut retry = Vec::new();
                let mut failed = Ok(());
                let mut deliveries = deliveries.into_iter();
                for delivery in deliveries.by_ref() {
                    let seq = delivery.seq;
                    // Each message's events are applied (and committed) before the next
                    // message (a Submit then a Kill of one execution, in order).
                    let applied = match self.deliver(delivery).await {
                        Ok(()) => self.handle_pending().await,
                        Err(error) => Err(error),
                    };
                    match applied {
                        Ok(()) => done.push(seq),
                        Err(error) => {
                            retry.push(seq);
                            failed = Err(error);
                            break;
                        }
                    }
                }
                retry.extend(deliveries.map(|d| d.seq));
                self.settle(&done, &retry).await;
                failed?;
            }
            InboxMsg::Lost(ids) => {
                for id in ids {
                    if let Some(mut live) = self.lives.remove(&id) {
                        for (_, _, handle) in live.timers.drain(..) {
                            handle.abort();
                        }
                        eprintln!(
                            "warning: execution {} was taken over by another executor (this \
                             one did not renew its lease in time): dropped from memory",
                            id.as_str()
                        );
                    }
                }
            }
            InboxMsg::Reaped(ids) => {
                let taken = self.adopt(ids).await?;
                if taken > 0 {
                    eprintln!("took over {taken} executions whose executor stopped");
                }
            }
        }
        Ok(())
    }

    /// Acknowledges the messages whose change is committed (they leave the inbox) and gives
    /// back those that failed. Awaited before the turn goes on, so an execution is never
    /// released with messages still claimed. When it fails, the messages stay claimed by this
    /// executor: delivered again only to whoever owns the execution next (their controls
    /// are checked again then: see [`Driver::deliver`]).
    async fn settle(&self, done: &[i64], retry: &[i64]) {
        let Some(membership) = &self.rt.inbox else {
            return;
        };
        if let Err(error) = membership.queue.ack(&membership.info.id, done, retry).await {
            eprintln!("error: acknowledging inbox messages: {error}");
        }
    }

    /// One claimed message.
    ///
    /// A message delivered again after a take-over may have been applied by the executor that
    /// died before acknowledging it. Submit (started once: the execution is in memory or not
    /// CREATED any more), ChildEnded (the Subflow run is ended already), Dequeued (no longer
    /// QUEUED), Kill (refused once ended; a second kill of a KILLING execution changes
    /// nothing) and Unqueue (only QUEUED executions) are idempotent. Pause, Resume, Restart,
    /// ChangeTaskRunState and ForceRun are not (a Resume applied twice would resume the next
    /// Pause too): delivered again, they are applied only if the execution's state history
    /// has the length the poster saw, since each of them adds a state once applied.
    async fn deliver(&mut self, delivery: Delivery) -> Result<(), RuntimeError> {
        let redelivered = delivery.redelivered;
        let id = ExecutionId::from(delivery.execution_id);
        match delivery.message {
            InboxMessage::Submit => {
                if self.lives.contains_key(&id) {
                    return Ok(());
                }
                let Some(execution) = self.rt.store.get_execution(&id).await? else {
                    eprintln!(
                        "warning: submitted execution {} is not in the store",
                        id.as_str()
                    );
                    self.release(vec![id]);
                    return Ok(());
                };
                let fresh = execution.state.current() == StateType::Created
                    && execution.task_run_list.is_empty();
                if !fresh {
                    // Already started by a previous owner: resume it.
                    self.adopt(vec![id]).await?;
                    return Ok(());
                }
                let flow = self
                    .load_flow(
                        &execution.namespace,
                        &execution.flow_id,
                        Some(execution.flow_revision),
                    )
                    .await;
                match flow {
                    Ok(flow) => self.start(flow, execution, None).await?,
                    Err(message) => {
                        self.rt
                            .log_execution(&execution, saker_task::Level::Error, message)
                            .await?;
                    }
                }
            }
            InboxMessage::Control { control, seen } => {
                if !self.lives.contains_key(&id) {
                    self.adopt(vec![id.clone()]).await?;
                }
                let moved_on = |live: &crate::Live| {
                    seen.is_some_and(|seen| live.execution.state.histories().len() != seen)
                };
                if redelivered
                    && !matches!(control, Control::Kill | Control::Unqueue { .. })
                    && self.lives.get(&id).is_some_and(moved_on)
                {
                    eprintln!(
                        "warning: request on execution {} delivered again after a take-over \
                         was applied already (its state changed since it was posted): skipped",
                        id.as_str()
                    );
                    return Ok(());
                }
                match self.apply_control(&id, control).await {
                    Ok(_) => {}
                    Err(ControlError::Runtime(error)) => return Err(error),
                    // The poster checked the request; the state moved on since.
                    Err(error) => eprintln!(
                        "warning: request on execution {} refused: {error}",
                        id.as_str()
                    ),
                }
            }
            InboxMessage::ChildEnded { task_run_id } => {
                if !self.lives.contains_key(&id) {
                    // Resuming it looks at each of its waiting Subflow runs, this one too.
                    self.adopt(vec![id.clone()]).await?;
                    return Ok(());
                }
                let run = self
                    .lives
                    .get(&id)
                    .and_then(|live| live.execution.find_task_run(&task_run_id))
                    .filter(|run| !run.state.is_terminated())
                    .cloned();
                if let Some(run) = run {
                    self.recover_child(&id, &run).await?;
                }
            }
            InboxMessage::Dequeued => {
                if !self.lives.contains_key(&id) {
                    // Resumed with its slot (a take-over starts what holds one).
                    self.adopt(vec![id.clone()]).await?;
                }
                self.slot_given(&id).await?;
            }
        }
        Ok(())
    }

    /// Loads executions this executor now owns (taken over, or addressed by a message while
    /// not in memory) and resumes the unfinished ones; returns how many were resumed.
    pub(crate) async fn adopt(&mut self, ids: Vec<ExecutionId>) -> Result<usize, RuntimeError> {
        let mut executions = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            if self.lives.contains_key(&id) {
                continue;
            }
            match self.rt.store.get_execution(&id).await? {
                Some(execution) => executions.push(execution),
                // Owned before it was saved, and its creator stopped in between.
                None => missing.push(id),
            }
        }
        // Released before going on, not in the background: resuming a parent below may own
        // one of them again to start it (a Subflow child never saved), and a late release
        // would drop that ownership.
        if !missing.is_empty()
            && let Some(membership) = &self.rt.inbox
        {
            let missing: Vec<String> = missing.iter().map(|id| id.as_str().to_owned()).collect();
            if let Err(error) = membership
                .queue
                .release(&membership.info.id, &missing)
                .await
            {
                eprintln!("warning: releasing executions that were never saved: {error}");
            }
        }
        self.resume_loaded(executions).await
    }

    /// The child of Subflow run `task_run_id` of `id` was never saved and another executor
    /// holds its id: a lease later, the parent's owner (this executor or the next one) looks
    /// again, through a `ChildEnded` message (see [`Driver::recover_child`]).
    pub(crate) fn look_for_child_later(
        &self,
        id: &ExecutionId,
        task_run_id: &saker_core::TaskRunId,
    ) {
        let Some(membership) = self.rt.inbox.clone() else {
            return;
        };
        let message = InboxMessage::ChildEnded {
            task_run_id: task_run_id.as_str().to_owned(),
        };
        let parent = id.as_str().to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(membership.lease).await;
            if let Err(error) = membership.queue.post(vec![(parent, message)]).await {
                eprintln!("error: asking to look for a subflow child again: {error}");
            }
        });
    }

    /// Owns an execution this loop creates (a subflow child, a replay) before it is saved, so
    /// no other executor takes it.
    pub(crate) async fn own_new(&self, id: &ExecutionId) -> Result<(), RuntimeError> {
        if let Some(membership) = &self.rt.inbox {
            membership
                .queue
                .own(
                    &membership.info.id,
                    &[id.as_str().to_owned()],
                    membership.lease,
                )
                .await?;
        }
        Ok(())
    }

    /// Gives up executions that left memory.
    pub(crate) fn release(&self, ids: Vec<ExecutionId>) {
        let Some(membership) = self.rt.inbox.clone() else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        tokio::spawn(async move {
            let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
            if let Err(error) = membership.queue.release(&membership.info.id, &ids).await {
                eprintln!("warning: releasing ended executions: {error}");
            }
        });
    }

    /// The kill of a Subflow run reaches its child when another executor owns it.
    pub(crate) fn kill_child_elsewhere(
        &self,
        id: &ExecutionId,
        task_run_id: &saker_core::TaskRunId,
    ) {
        let Some(membership) = self.rt.inbox.clone() else {
            return;
        };
        let child = self
            .lives
            .get(id)
            .and_then(|live| live.execution.find_task_run(task_run_id.as_str()))
            .and_then(|run| run.outputs.as_ref()?.get("executionId")?.as_str())
            .map(ExecutionId::new);
        let Some(child) = child.filter(|child| !self.lives.contains_key(child)) else {
            return;
        };
        tokio::spawn(async move {
            let message = InboxMessage::Control {
                control: Control::Kill,
                seen: None,
            };
            if let Err(error) = membership
                .queue
                .post(vec![(child.as_str().to_owned(), message)])
                .await
            {
                eprintln!("error: killing child execution {}: {error}", child.as_str());
            }
        });
    }

    /// A child execution ended with no parent in this loop: its parent may run on another
    /// executor, which completes the Subflow run from the store.
    pub(crate) fn child_ended_elsewhere(&self, id: &ExecutionId) {
        let Some(membership) = self.rt.inbox.clone() else {
            return;
        };
        let Some((parent, task_run_id)) = self
            .lives
            .get(id)
            .and_then(|live| crate::service::parent_of(&live.execution))
        else {
            return;
        };
        if self.lives.contains_key(&parent) {
            return;
        }
        tokio::spawn(async move {
            let message = InboxMessage::ChildEnded {
                task_run_id: task_run_id.as_str().to_owned(),
            };
            if let Err(error) = membership
                .queue
                .post(vec![(parent.as_str().to_owned(), message)])
                .await
            {
                eprintln!(
                    "error: telling execution {} its child ended: {error}",
                    parent.as_str()
                );
            }
        });
    }
}

#[cfg(test)]
mod tests;
