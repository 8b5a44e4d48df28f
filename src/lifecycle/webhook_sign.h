/*-------------------------------------------------------------------------
 * src/lifecycle/webhook_sign.h
 *	  Event delivery: webhook signatures and the wake-up notification.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_WEBHOOK_SIGN_H
#define TASKFORCE_WEBHOOK_SIGN_H

/* The channel _emit_event notifies when taskforce.notify_events is on. */
#define TF_EVENTS_CHANNEL "taskforce_events"

extern void tf_webhook_init(void);

#endif							/* TASKFORCE_WEBHOOK_SIGN_H */
