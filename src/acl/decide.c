/*-------------------------------------------------------------------------
 * src/acl/decide.c
 *	  The ACL decision: the only place its rules live (docs/acl.md has the
 *	  decision table; every check, row policy and listing calls this).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "acl/acl.h"

static const char *const permission_names[TF_ACL_NUM_PERMISSIONS] = {
	"read", "write", "delete", "reference", "share", "admin"
};

static const char *const rule_names[] = {
	[TF_RULE_NO_CONTEXT] = "no_context",
	[TF_RULE_OTHER_TENANT] = "other_tenant",
	[TF_RULE_GLOBAL_SCOPE] = "global_scope",
	[TF_RULE_POLICY_ROLES] = "policy_roles",
	[TF_RULE_OWNER] = "owner",
	[TF_RULE_GRANT] = "grant",
	[TF_RULE_NEEDS_GRANT] = "needs_grant",
	[TF_RULE_SCOPE] = "scope",
	[TF_RULE_NOT_IN_SCOPE] = "not_in_scope",
	[TF_RULE_NOT_DEFAULT] = "not_default"
};

/* The bit of a permission name, or 0 if it is not one. */
int
tf_acl_permission_bit(const char *name, int len)
{
	for (int i = 0; i < TF_ACL_NUM_PERMISSIONS; i++)
		if ((int) strlen(permission_names[i]) == len && memcmp(permission_names[i], name, len) == 0)
			return 1 << i;
	return 0;
}

const char *
tf_acl_permission_name(int bit)
{
	for (int i = 0; i < TF_ACL_NUM_PERMISSIONS; i++)
		if (bit == 1 << i)
			return permission_names[i];
	return "?";
}

const char *
tf_acl_rule_name(TfAclRule rule)
{
	return rule_names[rule];
}

/* The permissions the identity's live grants on the resource hold. */
static int
granted(const TfAclIdentity *who, const char *resource_id, TimestampTz now,
		const TfAclGrant **deciding, int permission)
{
	TfAclGrantList *list;
	int			bits = 0;

	if (strlen(resource_id) >= TF_ACL_MAX_ID)
		return 0;
	list = hash_search(who->grants, resource_id, HASH_FIND, NULL);
	if (list == NULL)
		return 0;
	for (const TfAclGrant *g = list->first; g != NULL; g = g->next)
	{
		/* An expired grant grants nothing, judged by the transaction's time. */
		if (g->expires_at <= now)
			continue;
		bits |= g->permissions;
		if (deciding && *deciding == NULL && (g->permissions & (permission | TF_ACL_ADMIN)))
			*deciding = g;
	}
	return bits;
}

static bool
holds_role(const TfAclIdentity *who, const TfAclPolicy *policy)
{
	for (int i = 0; i < policy->nallowed; i++)
		for (int j = 0; j < who->nroles; j++)
			if (strcmp(policy->allowed_roles[i], who->roles[j]) == 0)
				return true;
	return false;
}

static bool
in_audience(const TfAclIdentity *who, const TfAclResource *res)
{
	switch (res->scope)
	{
		case TF_ACL_SCOPE_GLOBAL:
		case TF_ACL_SCOPE_TENANT:
			return true;
		case TF_ACL_SCOPE_PROJECT:
			return res->project_id != NULL && strlen(res->project_id) < TF_ACL_MAX_ID &&
				hash_search(who->projects, res->project_id, HASH_FIND, NULL) != NULL;
		case TF_ACL_SCOPE_SESSION:
			return res->session_id != NULL && strlen(res->session_id) < TF_ACL_MAX_ID &&
				hash_search(who->sessions, res->session_id, HASH_FIND, NULL) != NULL;
		case TF_ACL_SCOPE_PRIVATE:
			return false;
	}
	return false;
}

static inline TfAclDecision
decided(bool allowed, TfAclRule rule, const TfAclPolicy *policy)
{
	TfAclDecision d;

	d.allowed = allowed;
	d.rule = rule;
	d.policy = policy;
	d.grant = NULL;
	return d;
}

/*
 * May who use res with permission (one bit)?  policies are those of the
 * resource's tenant; now is the transaction's start.  Rules in order, the
 * first that applies decides (docs/acl.md).
 */
TfAclDecision
tf_acl_decide(const TfAclIdentity *who, const TfAclResource *res,
			  const TfAclPolicies *policies, int permission, TimestampTz now)
{
	const TfAclPolicy *policy = NULL;
	const TfAclGrant *grant = NULL;
	TfAclDecision d;

	if (policies != NULL && policies->by[res->scope][res->sensitivity].exists)
		policy = &policies->by[res->scope][res->sensitivity];
	if (who == NULL)
		return decided(false, TF_RULE_NO_CONTEXT, policy);

	/*
	 * Another tenant's resource: only global system data, by default
	 * permissions, and not if its tenant's policy admits only some roles
	 * (role names are the resource tenant's: nobody elsewhere holds them).
	 */
	if (strcmp(res->tenant_id, who->tenant_id) != 0)
	{
		if (policy != NULL && policy->nallowed >= 0)
			return decided(false, TF_RULE_POLICY_ROLES, policy);
		if (res->scope == TF_ACL_SCOPE_GLOBAL && res->sensitivity <= TF_SENS_INTERNAL &&
			(res->default_permissions & permission))
			return decided(true, TF_RULE_GLOBAL_SCOPE, policy);
		return decided(false, TF_RULE_OTHER_TENANT, policy);
	}

	/* A policy naming roles shuts out everyone else, owners included. */
	if (policy != NULL && policy->nallowed >= 0 && !holds_role(who, policy))
		return decided(false, TF_RULE_POLICY_ROLES, policy);

	if (strcmp(res->owner_id, who->user_id) == 0)
		return decided(true, TF_RULE_OWNER, policy);

	if (granted(who, res->resource_id, now, &grant, permission) & (permission | TF_ACL_ADMIN))
	{
		d = decided(true, TF_RULE_GRANT, policy);
		d.grant = grant;
		return d;
	}

	if (res->sensitivity >= TF_SENS_CONFIDENTIAL)
		return decided(false, TF_RULE_NEEDS_GRANT, policy);
	if (!in_audience(who, res))
		return decided(false, TF_RULE_NOT_IN_SCOPE, policy);
	if (res->default_permissions & permission)
		return decided(true, TF_RULE_SCOPE, policy);
	return decided(false, TF_RULE_NOT_DEFAULT, policy);
}

/* Every permission who holds on res, as bits. */
int
tf_acl_permissions(const TfAclIdentity *who, const TfAclResource *res,
				   const TfAclPolicies *policies, TimestampTz now)
{
	int			bits = 0;

	for (int i = 0; i < TF_ACL_NUM_PERMISSIONS; i++)
		if (tf_acl_decide(who, res, policies, 1 << i, now).allowed)
			bits |= 1 << i;
	return bits;
}
