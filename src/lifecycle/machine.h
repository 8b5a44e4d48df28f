/*
 * src/lifecycle/machine.h: state machine definitions as the trigger of
 * machine.c reads them, from the per-backend cache of machine_cache.c.
 */
#ifndef TF_LIFECYCLE_MACHINE_H
#define TF_LIFECYCLE_MACHINE_H

#define MAX_MACHINE_LEN 128

typedef struct Transition
{
	char	   *from;
	char	   *to;
	char	   *permission;		/* NULL: none */
	char	   *approval;		/* NULL: none */
} Transition;

/* A machine as loaded from state_machines and state_machine_transitions. */
typedef struct Machine
{
	char		name[MAX_MACHINE_LEN + 1];	/* hash key: must be first */
	bool		loaded;
	int			ninitial;
	char	  **initial;
	int			nterminal;
	char	  **terminal;
	int			ntransitions;
	Transition *transitions;	/* ordered by from, to */
} Machine;

/* The machine, loaded on a miss; 42704 if it does not exist. */
extern Machine *tf_machine_get(const char *name);
/* The transition from -> to, or NULL. */
extern Transition *tf_machine_find_transition(Machine *m, const char *from, const char *to);
/* The hint of an illegal transition out of state from. */
extern char *tf_machine_next_states_hint(Machine *m, const char *from);
extern bool tf_machine_in_list(char **list, int n, const char *s);
extern char *tf_machine_join_list(char **list, int n);

#endif							/* TF_LIFECYCLE_MACHINE_H */
