/*-------------------------------------------------------------------------
 * src/tenancy/tenancy.c
 *	  The trigger that keeps a row's tenant from ever changing.
 *
 * enable_tenant_isolation() attaches it as a BEFORE UPDATE row trigger
 * with WHEN (OLD.col IS DISTINCT FROM NEW.col), so it runs only for the
 * updates it must refuse; it checks again so it is safe without the WHEN.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(taskforce_tenant_immutable);

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
