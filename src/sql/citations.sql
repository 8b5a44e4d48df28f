-- src/sql/citations.sql: source citations from semantic-search results
-- (new in 0.5.0; seed 001 section 8.1).  extract_citations() turns a search
-- result into citations; format_citations() marks a text with them, inline
-- ([1] markers and a reference list) or as an appendix.  Both are pure
-- functions of their arguments.

-- A search result is {"success": bool, "results": [{document_id,
-- document_title, content, score, page_number}, ...]}.  An unsuccessful
-- result, or one without results, cites nothing: an empty array.
CREATE FUNCTION taskforce.extract_citations(search_result jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    results jsonb;
    r jsonb;
    i integer := 0;
    citations jsonb := '[]';
BEGIN
    IF search_result IS NULL THEN
        RAISE EXCEPTION 'search_result must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(search_result) <> 'object' THEN
        RAISE EXCEPTION 'search_result must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF search_result ? 'success' AND jsonb_typeof(search_result->'success') <> 'boolean' THEN
        RAISE EXCEPTION 'search_result.success must be a boolean'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    results := search_result->'results';
    IF (search_result->>'success')::boolean IS FALSE
       OR results IS NULL OR jsonb_typeof(results) = 'null' THEN
        RETURN citations;
    END IF;
    IF jsonb_typeof(results) <> 'array' THEN
        RAISE EXCEPTION 'search_result.results must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT e FROM jsonb_array_elements(results) AS e LOOP
        i := i + 1;
        IF jsonb_typeof(r) <> 'object' THEN
            RAISE EXCEPTION 'search result % is not a JSON object', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(r->'document_id') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'search result % has no document_id string', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF coalesce(jsonb_typeof(r->'document_title'), 'null') NOT IN ('string', 'null')
           OR coalesce(jsonb_typeof(r->'content'), 'null') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION 'search result %: document_title and content must be strings', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF coalesce(jsonb_typeof(r->'score'), 'null') NOT IN ('number', 'null') THEN
            RAISE EXCEPTION 'search result %: score must be a number', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF coalesce(jsonb_typeof(r->'page_number'), 'null') NOT IN ('number', 'null')
           OR (jsonb_typeof(r->'page_number') = 'number'
               AND ((r->>'page_number')::numeric % 1 <> 0 OR (r->>'page_number')::numeric < 1)) THEN
            RAISE EXCEPTION 'search result %: page_number must be a positive integer', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Without a title a citation is named by its document id.
        citations := citations || jsonb_build_array(jsonb_build_object(
            'document_id', r->'document_id',
            'title', coalesce(nullif(r->'document_title', 'null'), r->'document_id'),
            'snippet', coalesce(r->'content', 'null'),
            'score', coalesce(r->'score', 'null'),
            'page_number', coalesce(r->'page_number', 'null')));
    END LOOP;
    RETURN citations;
END
$$;
COMMENT ON FUNCTION taskforce.extract_citations(jsonb) IS
    'the citations ({document_id, title, snippet, score, page_number}) of a semantic-search result, in result order; none for an unsuccessful result';

-- The reference line of one citation: "[n] title p. N (relevance: 0.95)".
CREATE FUNCTION taskforce._citation_reference(n integer, citation jsonb,
                                              include_score boolean, include_page boolean)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT '[' || n::text || '] ' || (citation->>'title')
           || CASE WHEN include_page AND jsonb_typeof(citation->'page_number') = 'number'
                   THEN ' p. ' || (citation->>'page_number') ELSE '' END
           || CASE WHEN include_score AND jsonb_typeof(citation->'score') = 'number'
                   THEN ' (relevance: ' || round((citation->>'score')::numeric, 2)::text || ')'
                   ELSE '' END
$$;
COMMENT ON FUNCTION taskforce._citation_reference(integer, jsonb, boolean, boolean) IS
    'internal: the reference line of the n-th citation';

-- inline: the i-th sentence gets " [i]" before its closing punctuation; a
-- sentence ends at a run of . ! ? followed by white space or the end of
-- the text, and trailing text without one is a last sentence too.  The
-- citations beyond the number of sentences are all marked on the last
-- sentence; sentences beyond the number of citations stay unmarked.
-- appendix: the text unchanged, then a rule and the reference list.
-- Only the first max_citations citations are used.
CREATE FUNCTION taskforce.format_citations(
    body text,
    citations jsonb,
    style text DEFAULT 'inline',
    max_citations integer DEFAULT 10,
    include_score boolean DEFAULT false,
    include_page boolean DEFAULT true)
    RETURNS TABLE (formatted_text text, "references" text[])
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    sentence_end constant text := '[.!?]+(?=\s|$)';
    c jsonb;
    used integer;
    refs text[] := '{}';
    marks integer[] := '{}';  -- where each sentence's marker goes
    trimmed_length integer;
    last_end integer := 0;
    n_marks integer;
    out_text text := '';
    prev integer := 1;
    marker text;
    i integer;
    j integer;
BEGIN
    IF body IS NULL OR citations IS NULL OR style IS NULL OR max_citations IS NULL
       OR include_score IS NULL OR include_page IS NULL THEN
        RAISE EXCEPTION 'arguments must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF style NOT IN ('inline', 'appendix') THEN
        RAISE EXCEPTION 'unknown citation style "%"', style
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use inline or appendix.';
    END IF;
    IF max_citations < 0 THEN
        RAISE EXCEPTION 'max_citations must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(citations) <> 'array' THEN
        RAISE EXCEPTION 'citations must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    used := least(jsonb_array_length(citations), max_citations);
    FOR i IN 1 .. used LOOP
        c := citations->(i - 1);
        IF jsonb_typeof(c) <> 'object' OR jsonb_typeof(c->'title') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'citation % is not a JSON object with a title string', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF coalesce(jsonb_typeof(c->'score'), 'null') NOT IN ('number', 'null')
           OR coalesce(jsonb_typeof(c->'page_number'), 'null') NOT IN ('number', 'null') THEN
            RAISE EXCEPTION 'citation %: score and page_number must be numbers', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        refs := refs || taskforce._citation_reference(i, c, include_score, include_page);
    END LOOP;

    IF style = 'appendix' THEN
        formatted_text := CASE WHEN used = 0 THEN body
                               ELSE body || E'\n\n---\n**References:**\n' || array_to_string(refs, E'\n') END;
        "references" := refs;
        RETURN NEXT;
        RETURN;
    END IF;

    -- inline: find where each sentence's marker goes.
    FOR i IN 1 .. regexp_count(body, sentence_end) LOOP
        marks := marks || regexp_instr(body, sentence_end, 1, i);
        last_end := regexp_instr(body, sentence_end, 1, i, 1);
    END LOOP;
    trimmed_length := length(regexp_replace(body, '\s+$', ''));
    IF trimmed_length >= greatest(last_end, 1) THEN
        marks := marks || (trimmed_length + 1);
    END IF;
    n_marks := least(cardinality(marks), used);
    FOR i IN 1 .. n_marks LOOP
        marker := ' [' || i::text || ']';
        IF i = n_marks THEN
            FOR j IN i + 1 .. used LOOP
                marker := marker || ' [' || j::text || ']';
            END LOOP;
        END IF;
        out_text := out_text || substr(body, prev, marks[i] - prev) || marker;
        prev := marks[i];
    END LOOP;
    formatted_text := out_text || substr(body, prev);
    "references" := refs;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION taskforce.format_citations(text, jsonb, text, integer, boolean, boolean) IS
    'marks a text with citations: inline (sentence i gets [i] before its closing punctuation, extra citations on the last sentence) or appendix (a reference list after the text); returns the text and the reference lines';
