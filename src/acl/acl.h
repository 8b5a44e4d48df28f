/*-------------------------------------------------------------------------
 * src/acl/acl.h
 *	  Resource ACLs: what a decision reads, and the decision itself.
 *
 * decide.c holds the rules (docs/acl.md's decision table); cache.c loads
 * what they read into per-backend caches; functions.c is the SQL surface.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_ACL_H
#define TASKFORCE_ACL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/array.h"
#include "utils/hsearch.h"

/* Permissions as bits, in the order resource_permissions() lists them. */
typedef enum TfAclPermission
{
	TF_ACL_READ = 1 << 0,
	TF_ACL_WRITE = 1 << 1,
	TF_ACL_DELETE = 1 << 2,
	TF_ACL_REFERENCE = 1 << 3,
	TF_ACL_SHARE = 1 << 4,
	TF_ACL_ADMIN = 1 << 5
} TfAclPermission;
#define TF_ACL_NUM_PERMISSIONS 6
#define TF_ACL_ALL ((1 << TF_ACL_NUM_PERMISSIONS) - 1)

typedef enum TfAclSensitivity
{
	TF_SENS_PUBLIC,
	TF_SENS_INTERNAL,
	TF_SENS_CONFIDENTIAL,
	TF_SENS_RESTRICTED
} TfAclSensitivity;
#define TF_ACL_NUM_SENSITIVITIES 4

typedef enum TfAclScope
{
	TF_ACL_SCOPE_GLOBAL,
	TF_ACL_SCOPE_TENANT,
	TF_ACL_SCOPE_PROJECT,
	TF_ACL_SCOPE_SESSION,
	TF_ACL_SCOPE_PRIVATE
} TfAclScope;
#define TF_ACL_NUM_SCOPES 5

/* Ids (resource, session, project) are at most 256 bytes (acl.sql). */
#define TF_ACL_MAX_ID 257

/* A resource's ACL row. */
typedef struct TfAclResource
{
	char	   *tenant_id;
	char	   *resource_id;
	char	   *resource_type;
	char	   *owner_id;
	TfAclSensitivity sensitivity;
	TfAclScope	scope;
	char	   *project_id;		/* NULL unless scope is project */
	char	   *session_id;		/* NULL unless scope is session */
	int			default_permissions;	/* bits */
} TfAclResource;

/* One grant that applies to an identity: its permissions and expiry. */
typedef struct TfAclGrant
{
	int			permissions;	/* bits */
	TimestampTz expires_at;		/* DT_NOEND when it does not expire */
	char	   *principal;		/* user:<id> or role:<name> */
	struct TfAclGrant *next;	/* the identity's other grants on the resource */
} TfAclGrant;

/* What one policy says about a scope and sensitivity level. */
typedef struct TfAclPolicy
{
	bool		exists;
	bool		requires_audit;
	char	   *policy_id;
	int			nallowed;		/* -1: no role restriction */
	char	  **allowed_roles;
} TfAclPolicy;

/* A tenant's policies, by scope and sensitivity. */
typedef struct TfAclPolicies
{
	TfAclPolicy by[TF_ACL_NUM_SCOPES][TF_ACL_NUM_SENSITIVITIES];
} TfAclPolicies;

/* Everything about one identity the decision needs. */
typedef struct TfAclIdentity
{
	char	   *tenant_id;
	char	   *user_id;
	int			nroles;
	char	  **roles;
	HTAB	   *projects;		/* project ids (string keys) */
	HTAB	   *sessions;		/* session ids (string keys) */
	HTAB	   *grants;			/* resource id -> TfAclGrantList */
	TimestampTz valid_until;	/* when the first of its role grants expires */
} TfAclIdentity;

typedef struct TfAclGrantList
{
	char		resource_id[TF_ACL_MAX_ID];	/* hash key */
	TfAclGrant *first;
} TfAclGrantList;

/* Which rule decided. */
typedef enum TfAclRule
{
	TF_RULE_NO_CONTEXT,
	TF_RULE_OTHER_TENANT,
	TF_RULE_GLOBAL_SCOPE,
	TF_RULE_POLICY_ROLES,
	TF_RULE_OWNER,
	TF_RULE_GRANT,
	TF_RULE_NEEDS_GRANT,
	TF_RULE_SCOPE,
	TF_RULE_NOT_IN_SCOPE,
	TF_RULE_NOT_DEFAULT
} TfAclRule;

typedef struct TfAclDecision
{
	bool		allowed;
	TfAclRule	rule;
	const TfAclPolicy *policy;	/* the policy covering the resource, or NULL */
	const TfAclGrant *grant;	/* the grant that allowed, for TF_RULE_GRANT */
} TfAclDecision;

/* decide.c */
extern int	tf_acl_permission_bit(const char *name, int len);
extern const char *tf_acl_permission_name(int bit);
extern const char *tf_acl_rule_name(TfAclRule rule);
extern TfAclDecision tf_acl_decide(const TfAclIdentity *who, const TfAclResource *res,
								   const TfAclPolicies *policies, int permission,
								   TimestampTz now);
extern int	tf_acl_permissions(const TfAclIdentity *who, const TfAclResource *res,
							   const TfAclPolicies *policies, TimestampTz now);

/* cache.c */
extern uint64 tf_acl_ensure_caches(void);
extern uint64 tf_acl_identity_epoch(void);
extern const TfAclResource *tf_acl_resource(const char *tenant_id, const char *resource_id);
extern const TfAclIdentity *tf_acl_identity(const text *tenant_id, const text *user_id,
											ArrayType *asserted_roles);
extern const TfAclPolicies *tf_acl_policies(const char *tenant_id);
extern bool tf_acl_lock_for_write(const char *tenant_id, const char *resource_id);
extern TfAclSensitivity tf_acl_parse_sensitivity(const char *s);
extern TfAclScope tf_acl_parse_scope(const char *s);
extern int	tf_acl_parse_permission_list(const char *list, char sep);

#endif							/* TASKFORCE_ACL_H */
