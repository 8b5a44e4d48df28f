/*-------------------------------------------------------------------------
 * src/tenancy/tenancy.c
 *	  The trigger that keeps a row's tenant from ever changing, and the
 *	  reader of ALTER TABLE commands that join a table to a parent.
 *
 * enable_tenant_isolation() attaches the trigger as a BEFORE UPDATE row
 * trigger with WHEN (OLD.col IS DISTINCT FROM NEW.col), so it runs only for
 * the updates it must refuse; it checks again so it is safe without the WHEN.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(taskforce_tenant_immutable);
PG_FUNCTION_INFO_V1(taskforce_inheritance_changes);

/* Compares two non-null values byte for byte, ignoring varlena header form. */
static bool
same_value(Datum a, Datum b, Form_pg_attribute att)
{
	struct varlena *va;
	struct varlena *vb;

	if (att->attlen != -1)
		return datumIsEqual(a, b, att->attbyval, att->attlen);
	va = PG_DETOAST_DATUM_PACKED(a);
	vb = PG_DETOAST_DATUM_PACKED(b);
	return VARSIZE_ANY_EXHDR(va) == VARSIZE_ANY_EXHDR(vb) &&
		memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(va)) == 0;
}

/* Refuses an update that changes the tenant column named by the trigger's argument. */
Datum
taskforce_tenant_immutable(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	const char *column;
	int			attnum;
	Form_pg_attribute att;
	bool		old_null;
	bool		new_null;
	Datum		old_value;
	Datum		new_value;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("taskforce._tenant_immutable() must be a BEFORE UPDATE row trigger with the tenant column as its argument")));

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	column = trigdata->tg_trigger->tgargs[0];
	attnum = SPI_fnumber(tupdesc, column);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column, RelationGetRelationName(trigdata->tg_relation))));

	att = TupleDescAttr(tupdesc, attnum - 1);
	old_value = heap_getattr(trigdata->tg_trigtuple, attnum, tupdesc, &old_null);
	new_value = heap_getattr(trigdata->tg_newtuple, attnum, tupdesc, &new_null);
	if (old_null != new_null ||
		(!old_null && !same_value(old_value, new_value, att)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the tenant of a row in table \"%s\" cannot be changed",
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("Column \"%s\" keeps the tenant the row was inserted with.", column)));

	return PointerGetDatum(trigdata->tg_newtuple);
}

/* Adds (child, parent) to the result. */
static void
put_pair(ReturnSetInfo *rsinfo, Oid child, Oid parent)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = ObjectIdGetDatum(child);
	values[1] = ObjectIdGetDatum(parent);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Adds the partitions of parent that ATTACH PARTITION name attached.
 * PostgreSQL 15 collects an ATTACH PARTITION subcommand without the
 * partition's address, and its name cannot be looked up again here (the
 * event trigger runs with its own search_path), so the partition is found
 * among the parent's children by name, and by schema when the command gave
 * one.  Two children of one parent with the same name in different schemas
 * are both returned: at worst another partition of the same isolated parent
 * is isolated too, as enable_tenant_isolation() on the parent would do.
 */
static void
put_attached(ReturnSetInfo *rsinfo, Oid parent, const RangeVar *name)
{
	ListCell   *lc;

	foreach(lc, find_inheritance_children(parent, NoLock))
	{
		Oid			child = lfirst_oid(lc);
		char	   *relname = get_rel_name(child);
		char	   *nspname = get_namespace_name(get_rel_namespace(child));

		if (relname != NULL && strcmp(relname, name->relname) == 0 &&
			(name->schemaname == NULL ||
			 (nspname != NULL && strcmp(nspname, name->schemaname) == 0)))
			put_pair(rsinfo, child, parent);
	}
}

/*
 * taskforce._inheritance_changes(command pg_ddl_command,
 *                                OUT child regclass, OUT parent regclass)
 *
 * The (child, parent) pairs that one ALTER TABLE command, as collected for
 * the ddl_command_end event trigger, joined: ATTACH PARTITION (the altered
 * table is the parent) and INHERIT (the altered table is the child; the
 * subcommand's address is the parent).
 *
 * Why read the command rather than compare pg_inherits before and after:
 * the event trigger must isolate only the children a command attached, and
 * nothing that pg_restore rebuilds itself.  pg_restore attaches partitions
 * before the parents' triggers exist (so the parent is not yet isolated)
 * and later restores each child's own policy; a rule such as "after any
 * ALTER TABLE, complete every child of an isolated parent" would create
 * those policies first (on the parent's ENABLE ROW LEVEL SECURITY, say) and
 * make the restore's CREATE POLICY fail.  The subcommands say exactly which
 * command joined a child, with no state kept between events.
 *
 * pg_ddl_command has no input function, so its value can only come from
 * pg_event_trigger_ddl_commands() in the event trigger that is running.
 */
Datum
taskforce_inheritance_changes(PG_FUNCTION_ARGS)
{
	CollectedCommand *cmd = (CollectedCommand *) PG_GETARG_POINTER(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);

	if (cmd == NULL || cmd->type != SCT_AlterTable ||
		cmd->d.alterTable.classId != RelationRelationId ||
		get_rel_relkind(cmd->d.alterTable.objectId) == RELKIND_INDEX ||
		get_rel_relkind(cmd->d.alterTable.objectId) == RELKIND_PARTITIONED_INDEX)
		PG_RETURN_NULL();

	foreach(lc, cmd->d.alterTable.subcmds)
	{
		CollectedATSubcmd *sub = (CollectedATSubcmd *) lfirst(lc);
		AlterTableCmd *at = (AlterTableCmd *) sub->parsetree;

		if (at == NULL || !IsA(at, AlterTableCmd))
			continue;
		if (at->subtype == AT_AttachPartition &&
			at->def != NULL && IsA(at->def, PartitionCmd))
		{
			if (sub->address.classId == RelationRelationId &&
				OidIsValid(sub->address.objectId))
				put_pair(rsinfo, sub->address.objectId, cmd->d.alterTable.objectId);
			else
				put_attached(rsinfo, cmd->d.alterTable.objectId,
							 ((PartitionCmd *) at->def)->name);
		}
		else if (at->subtype == AT_AddInherit &&
				 sub->address.classId == RelationRelationId &&
				 OidIsValid(sub->address.objectId))
			put_pair(rsinfo, cmd->d.alterTable.objectId, sub->address.objectId);
	}
	PG_RETURN_NULL();
}
