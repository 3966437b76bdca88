/* SPDX-License-Identifier: MIT */
/*
 * Kill points: the steps of each operation after which a crash leaves state
 * behind in shared memory.  In a build with SHMSLAB_KILLPOINTS defined
 * (./configure --enable-killpoints, and the copy of the library the tests
 * build), KILLPOINT(name) kills the process with SIGKILL when the environment
 * variable SHMSLAB_KILLPOINT names that point; the tests kill a process at
 * each one in turn and check that recovery leaves nothing wedged or lost.
 * In every other build KILLPOINT expands to nothing.
 */
#ifndef SHMSLAB_KILLPOINTS_H
#define SHMSLAB_KILLPOINTS_H

/* Every kill point, in the order an operation meets them. */
#define SHMSLAB_KILLPOINT_LIST(X)                                                    \
	X(attach_locked)	/* byte lock taken, entry not yet LIVE */            \
	X(attach_live)		/* entry LIVE, lanes not yet reset */                \
	X(alloc_kept_claimed)	/* kept-back slot claimed, reference not returned */ \
	X(alloc_pop_journaled)	/* lane names the top, pop CAS not done */           \
	X(alloc_popped)		/* pop CAS done, slot not yet OWNED */               \
	X(alloc_owned)		/* slot OWNED, lane not yet idle */                  \
	X(alloc_stolen)		/* another thread's kept slot taken over */          \
	X(alloc_taken)		/* a remote list taken whole, not yet a local list */ \
	X(alloc_local_named)	/* a local list's head named by the lane, still FREE */ \
	X(alloc_local_popped)	/* a local list's head OWNED, still its head */      \
	X(alloc_many_partway)	/* a burst's first slot taken, the rest not yet */   \
	X(grow_claimed)		/* growth lock taken */                              \
	X(grow_reserved)	/* object extended, capacity not published */        \
	X(grow_published)	/* capacity published, new slots on no list */       \
	X(grow_pushed)		/* new slots pushed, growth lock still held */       \
	X(free_freeing)		/* state FREEING, readers not yet drained */         \
	X(free_drained)		/* readers gone, slot not yet given back */          \
	X(free_kept)		/* lane keeps the slot, state still FREEING */       \
	X(free_journaled)	/* lane names the slot, state still FREEING */       \
	X(free_marked)		/* state FREE, slot on no list */                    \
	X(free_pushed)		/* slot pushed, lane not yet idle */                 \
	X(write_locked)		/* write lock taken, readers not yet drained */      \
	X(write_drained)	/* write lock held, nothing written */               \
	X(store_half_copied)	/* half the message copied in */                     \
	X(store_copied)		/* whole message copied, lock held */                \
	X(write_end_unlocking)	/* write_end about to release the lock */            \
	X(read_bit_set)		/* reader bit set, state not yet checked */          \
	X(read_locked)		/* read lock held */                                 \
	X(read_end_bit_cleared) /* reader bit cleared, writer not yet woken */       \
	X(send_journaled)	/* lane names the slot, still OWNED */               \
	X(send_queued)		/* slot QUEUED, in no cell yet */                    \
	X(send_published)	/* a cell holds the slot, enq not moved on */        \
	X(send_many_partway)	/* a burst's first slot queued, the rest not yet */  \
	X(recv_waiting)		/* our sleeper bit set, not yet asleep */            \
	X(recv_woken)		/* woken, sleeper bit still set */                   \
	X(recv_journaled)	/* lane names the slot, its cell still holds it */   \
	X(recv_taken)		/* cell emptied, slot still QUEUED */                \
	X(recv_owned)		/* slot OWNED by the receiver, lane not yet idle */  \
	X(recv_many_partway)	/* a burst's first slot received, the rest queued */ \
	X(subscribe_claimed)	/* a place claimed, not yet a member */              \
	X(subscribe_joined)	/* a member, in its turn, place not yet LIVE */      \
	X(publish_journaled)	/* lane names the slot, no turn yet */               \
	X(publish_turn)		/* the turn held, nothing written */                 \
	X(publish_prepared)	/* the slot's subs and ticket written, still OWNED */ \
	X(publish_marked)	/* the slot PUBLISHED, in no cell yet */             \
	X(publish_filled)	/* its cell holds it, the ticket not moved on */     \
	X(sub_received)		/* a subscription's cursor moved past the message */ \
	X(release_cleared)	/* the subscription's bit off the slot */            \
	X(release_freeing)	/* the last bit gone, the slot FREEING */            \
	X(unsubscribe_left)	/* out of the members, bits still on the slots */    \
	X(detach_partway)	/* half of the slots released on detach */           \
	X(detach_released)	/* every slot released, entry still LIVE */          \
	X(recover_marked)	/* dead entries marked DEAD */                       \
	X(recover_blocked)	/* every free list blocked for the limbo walk */     \
	X(recover_orphan)	/* an orphan slot pushed on a blocked list */        \
	X(recover_reclaiming)	/* a dead process's slot taken over, not yet pushed */ \
	X(recover_fan_left)	/* dead subscriptions out of the members, bits still on */

/*
 * The steps of creating a segment, apart: the crash tests of the list above
 * kill a process working on a segment that exists, these its creator.
 */
#define SHMSLAB_KILLPOINT_CREATE_LIST(X)                                          \
	X(create_opened)	 /* the name exists, empty */                      \
	X(create_header_written) /* the header is in, not READY, nothing reserved */ \
	X(create_reserved)	 /* the object has its size, slots not built */

/*
 * The steps of a recovery that settles the fan-out turn of a publisher that
 * died in it, apart: tests/test-pubsub.c kills a recoverer at each, after
 * killing the publisher at the step that leaves its turn to settle.
 */
#define SHMSLAB_KILLPOINT_FAN_LIST(X)                                             \
	X(recover_fan_taken)   /* recovery holds the fan-out turn, nothing settled */ \
	X(recover_fan_settled) /* a dead turn's cell settled, its slot not yet undone */

#ifdef SHMSLAB_KILLPOINTS
void shmslab__killpoint(const char *name);
#define KILLPOINT(name) shmslab__killpoint(#name)
#else
#define KILLPOINT(name) ((void)0)
#endif

#endif /* SHMSLAB_KILLPOINTS_H */
