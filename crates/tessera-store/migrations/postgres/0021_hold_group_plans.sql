-- The hold loop of 0020 with seat picks that keep one plan each. 0020's picks chose their places
-- and took them in one statement, joined on the chosen rows: planned again for each member
-- (a plan for any values was poor there), the planning cost as much as the picking. Here a
-- member's places are picked into an array, then taken by number, and every statement of the
-- loop keeps one generic plan for the session. The conditions are 0020's; a pick of places
-- anywhere now reads them in seat order, available ones before lapsed holds (without an order,
-- the plan for any values was a scan of the whole event).

CREATE OR REPLACE FUNCTION tessera_hold_group(
    p_reservation UUID[], p_user UUID[], p_event UUID[], p_admission UUID[], p_type UUID[],
    p_quantity BIGINT[], p_near BIGINT[], p_per_event BIGINT[], p_per_type BIGINT[],
    p_counted UUID[], p_now TIMESTAMPTZ[], p_deadline TIMESTAMPTZ[])
RETURNS TABLE (r_n INTEGER, r_outcome TEXT, r_for_event BIGINT, r_for_type BIGINT, r_taken INTEGER,
               r_seats INTEGER[], r_prices BIGINT[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    i INTEGER;
    v_seats INTEGER[];
    v_prices BIGINT[];
    v_pick INTEGER[];
    more_seats INTEGER[];
    more_prices BIGINT[];
BEGIN
    -- Everyone's lock first, in user order, before any seat is touched: a hold that waits on a
    -- seat (seats asked for by number go alone, pg/reservations.rs) then never holds a person
    -- this group still has to lock. One hold at a time per person, so the limit check below
    -- cannot be raced.
    PERFORM 1 FROM users WHERE user_id = ANY (p_user) ORDER BY user_id FOR UPDATE;
    FOR i IN 1 .. COALESCE(array_length(p_user, 1), 0) LOOP
        r_n := i;
        r_for_event := 0;
        r_for_type := 0;
        r_taken := 0;
        r_seats := '{}';
        r_prices := '{}';
        IF p_admission[i] IS NOT NULL THEN
            -- Locked, so a payment spending the admission waits for this hold.
            PERFORM 1 FROM queue_entries
                WHERE entry_id = p_admission[i] AND status = 'admitted' AND expires_at > p_now[i] FOR SHARE;
            IF NOT FOUND THEN
                r_outcome := 'not_admitted';
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT),
               CAST(COALESCE(SUM(CASE WHEN ticket_type_id = p_counted[i] THEN quantity ELSE 0 END), 0) AS BIGINT)
        INTO r_for_event, r_for_type
        FROM reservations
        WHERE user_id = p_user[i] AND event_id = p_event[i]
          AND (status = 'completed' OR (status = 'pending' AND payment_deadline >= p_now[i]));
        IF r_for_event + p_quantity[i] > p_per_event[i]
           OR (p_per_type[i] IS NOT NULL AND r_for_type + p_quantity[i] > p_per_type[i]) THEN
            r_outcome := 'over_limit';
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- The places, as reservations.rs's take_statement: skipping those another transaction
        -- is taking, so a group never waits on a seat. Picked into an array first, then taken
        -- by number: each statement then has one plan that suits every member.
        v_seats := '{}';
        v_prices := '{}';
        IF p_near[i] IS NOT NULL THEN
            SELECT COALESCE(array_agg(seat_number ORDER BY d, seat_number), '{}') INTO v_pick
            FROM (SELECT seat_number, d FROM (
                      SELECT seat_number, seat_number - p_near[i] AS d FROM (SELECT seat_number FROM seats
                          WHERE event_id = p_event[i] AND ticket_type_id IS NULL AND status = 'available'
                            AND seat_number >= p_near[i]
                          ORDER BY seat_number LIMIT p_quantity[i] FOR UPDATE SKIP LOCKED) AS above
                      UNION ALL
                      SELECT seat_number, p_near[i] - seat_number AS d FROM (SELECT seat_number FROM seats
                          WHERE event_id = p_event[i] AND ticket_type_id IS NULL AND status = 'available'
                            AND seat_number < p_near[i]
                          ORDER BY seat_number DESC LIMIT p_quantity[i] FOR UPDATE SKIP LOCKED) AS below) AS near
                  ORDER BY d, seat_number LIMIT p_quantity[i]) AS picked;
            WITH taken AS (
                UPDATE seats SET status = 'held', reservation_id = p_reservation[i],
                    held_until = p_deadline[i], updated_at = p_now[i]
                WHERE event_id = p_event[i] AND seat_number = ANY (v_pick) AND ticket_type_id IS NULL
                  AND (status = 'available' OR (status = 'held' AND held_until < p_now[i]))
                RETURNING seat_number, price)
            SELECT COALESCE(array_agg(seat_number), '{}'), COALESCE(array_agg(price), '{}')
            INTO v_seats, v_prices FROM taken;
        END IF;
        IF cardinality(v_seats) < p_quantity[i] THEN
            -- Anywhere (or the rest of a short pick near a seat): numbered seats, or places of
            -- the ticket type; available ones first, then those of lapsed holds (the second
            -- branch runs only if the first comes short), in seat order so the index is read.
            -- Two statements rather than one with `IS NOT DISTINCT FROM`: each then has a
            -- plan that reads its own index (seats_status_idx, seats_type_idx).
            IF p_type[i] IS NULL THEN
                SELECT COALESCE(array_agg(seat_number), '{}') INTO v_pick FROM (
                    SELECT seat_number FROM (SELECT seat_number FROM seats
                        WHERE event_id = p_event[i] AND ticket_type_id IS NULL AND status = 'available'
                        ORDER BY seat_number LIMIT p_quantity[i] - cardinality(v_seats) FOR UPDATE SKIP LOCKED) AS free
                    UNION ALL
                    SELECT seat_number FROM (SELECT seat_number FROM seats
                        WHERE event_id = p_event[i] AND ticket_type_id IS NULL AND status = 'held'
                          AND held_until < p_now[i]
                        ORDER BY seat_number LIMIT p_quantity[i] - cardinality(v_seats) FOR UPDATE SKIP LOCKED) AS lapsed
                    LIMIT p_quantity[i] - cardinality(v_seats)) AS picked;
            ELSE
                SELECT COALESCE(array_agg(seat_number), '{}') INTO v_pick FROM (
                    SELECT seat_number FROM (SELECT seat_number FROM seats
                        WHERE event_id = p_event[i] AND ticket_type_id = p_type[i] AND status = 'available'
                        ORDER BY seat_number LIMIT p_quantity[i] - cardinality(v_seats) FOR UPDATE SKIP LOCKED) AS free
                    UNION ALL
                    SELECT seat_number FROM (SELECT seat_number FROM seats
                        WHERE event_id = p_event[i] AND ticket_type_id = p_type[i] AND status = 'held'
                          AND held_until < p_now[i]
                        ORDER BY seat_number LIMIT p_quantity[i] - cardinality(v_seats) FOR UPDATE SKIP LOCKED) AS lapsed
                    LIMIT p_quantity[i] - cardinality(v_seats)) AS picked;
            END IF;
            WITH taken AS (
                UPDATE seats SET status = 'held', reservation_id = p_reservation[i],
                    held_until = p_deadline[i], updated_at = p_now[i]
                WHERE event_id = p_event[i] AND seat_number = ANY (v_pick)
                  AND (status = 'available' OR (status = 'held' AND held_until < p_now[i]))
                RETURNING seat_number, price)
            SELECT COALESCE(array_agg(seat_number), '{}'), COALESCE(array_agg(price), '{}')
            INTO more_seats, more_prices FROM taken;
            v_seats := v_seats || more_seats;
            v_prices := v_prices || more_prices;
        END IF;
        r_taken := cardinality(v_seats);
        IF r_taken <> p_quantity[i] THEN
            -- All or none: the places this hold took go back, available (a seat taken from a
            -- lapsed hold does not go back to it: a lapsed hold counts as available anyway).
            -- They stay locked until the group commits, so another group skips them meanwhile.
            IF r_taken > 0 THEN
                UPDATE seats SET status = 'available', reservation_id = NULL, held_until = NULL, updated_at = p_now[i]
                WHERE reservation_id = p_reservation[i] AND status = 'held';
            END IF;
            r_outcome := 'sold_out';
            RETURN NEXT;
            CONTINUE;
        END IF;
        INSERT INTO reservations (reservation_id, user_id, event_id, ticket_type_id, quantity, amount,
            status, reserved_at, payment_deadline, created_at, updated_at)
        VALUES (p_reservation[i], p_user[i], p_event[i], p_type[i], r_taken,
            (SELECT COALESCE(SUM(x), 0) FROM unnest(v_prices) AS x), 'pending', p_now[i], p_deadline[i],
            p_now[i], p_now[i]);
        r_outcome := 'held';
        r_seats := v_seats;
        r_prices := v_prices;
        RETURN NEXT;
    END LOOP;
END
$$;
