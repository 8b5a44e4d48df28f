-- test/bench/transitions_setup.sql: the tables of test/bench/transitions.sh.
-- Three identical tables of BENCH_ROWS rows in state 'a': t_none (no
-- trigger), t_engine (the C state machine trigger of attach_state_machine)
-- and t_plpgsql (a PL/pgSQL trigger making the same checks and writing the
-- same audit entry through taskforce._audit_write_event).  Machine "flip":
-- a -> b and b -> a, no permission, no approval.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
\ir bench_time.sql

SELECT taskforce.define_state_machine('flip', '{a}', '{}',
    '[{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]');
SELECT taskforce.define_state_machine('flip_plpgsql', '{a}', '{}',
    '[{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]');

SELECT set_config('bench.rows', :'rows', false);
DO $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['none', 'engine', 'plpgsql'] LOOP
        EXECUTE format('CREATE TABLE public.t_%s (id integer PRIMARY KEY, state text NOT NULL, '
                       'payload text NOT NULL) WITH (fillfactor = 50)', v);
        EXECUTE format('INSERT INTO public.t_%s SELECT g, ''a'', ''some payload text'' '
                       'FROM generate_series(1, %s) AS g', v, current_setting('bench.rows')::integer);
        -- n single-row UPDATEs of the state column, one statement each,
        -- flipping a <-> b: every one is a transition.
        EXECUTE format($f$
            CREATE FUNCTION public.flip_%1$s(n integer) RETURNS bigint LANGUAGE plpgsql AS $b$
            BEGIN
                FOR i IN 1 .. n LOOP
                    UPDATE public.t_%1$s SET state = CASE WHEN state = 'a' THEN 'b' ELSE 'a' END
                     WHERE id = i;
                END LOOP;
                RETURN n;
            END
            $b$ $f$, v);
        -- n single-row UPDATEs that keep the state (another column changes).
        EXECUTE format($f$
            CREATE FUNCTION public.touch_%1$s(n integer) RETURNS bigint LANGUAGE plpgsql AS $b$
            BEGIN
                FOR i IN 1 .. n LOOP
                    UPDATE public.t_%1$s SET state = state, payload = payload WHERE id = i;
                END LOOP;
                RETURN n;
            END
            $b$ $f$, v);
    END LOOP;
END
$$;

SELECT taskforce.attach_state_machine('public.t_engine', 'state', 'flip');

-- The PL/pgSQL equivalent of the engine's rules for an UPDATE: unchanged
-- state passes; the (from, to) transition must exist (55000 with the
-- allowed next states); its permission (none here) checked with
-- has_permission or the administrator rule; an audit entry with the row
-- key, machine, column, from, to and reason.
CREATE FUNCTION public.plpgsql_machine() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    machine_name text := TG_ARGV[0];
    old_state text := to_jsonb(OLD) ->> TG_ARGV[1];
    new_state text := to_jsonb(NEW) ->> TG_ARGV[1];
    t record;
BEGIN
    IF old_state IS NOT DISTINCT FROM new_state THEN
        RETURN NEW;
    END IF;
    SELECT st.required_permission, st.approval_type INTO t
      FROM taskforce.state_machine_transitions AS st
     WHERE st.machine = machine_name AND st.from_state = old_state AND st.to_state = new_state;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'illegal transition of %.% from "%" to "%"', TG_TABLE_NAME, TG_ARGV[1], old_state, new_state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = (SELECT 'allowed next states: ' || string_agg(st.to_state, ', ' ORDER BY st.to_state)
                            FROM taskforce.state_machine_transitions AS st
                           WHERE st.machine = machine_name AND st.from_state = old_state);
    END IF;
    IF t.required_permission IS NOT NULL AND NOT taskforce.has_permission(t.required_permission)
       AND (taskforce.current_tenant() IS NOT NULL OR NOT taskforce._caller_is_administrator()) THEN
        RAISE EXCEPTION 'transition requires permission "%"', t.required_permission
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM taskforce._audit_write_event('transition', quote_ident(TG_TABLE_SCHEMA) || '.' || quote_ident(TG_TABLE_NAME),
                                         jsonb_build_object('id', NEW.id)::text, 'transition', NULL,
                                         jsonb_build_object('machine', machine_name, 'column', TG_ARGV[1],
                                                            'from', old_state, 'to', new_state, 'reason', NULL));
    RETURN NEW;
END
$$;
CREATE TRIGGER plpgsql_machine BEFORE UPDATE OF state ON public.t_plpgsql
    FOR EACH ROW EXECUTE FUNCTION public.plpgsql_machine('flip_plpgsql', 'state');
VACUUM ANALYZE public.t_none, public.t_engine, public.t_plpgsql;
