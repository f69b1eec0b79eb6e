-- Holds and payments that arrive together, run as one call each (pg/reservations.rs,
-- pg/payments.rs): a loop over the group in one transaction, so the round trips, the planning
-- (PL/pgSQL keeps its statements' plans for the session) and the commit are paid once a group.
-- Each member's steps are the ones of the lone path, in the same order and with the same
-- conditions; a member refused part-way takes back what it wrote, so the rest of its group can
-- commit. Every statement of a loop takes a new snapshot (READ COMMITTED), so a member sees the
-- members before it. An error fails the whole call and the caller runs the members one by one.


-- Holds. Arrays, a hold each (the callers pass them in user order, so groups lock people in one
-- order): reservation, user, event, admission (NULL: none), ticket type (NULL: numbered
-- seats), quantity, near seat (NULL: anywhere), the limit per event and per ticket type (NULL:
-- none), the type counted against it, now and deadline. A row per hold: its number, `held`,
-- `not_admitted`, `over_limit` or `sold_out`, the two counts, and the places taken (seat, price;
-- none unless held, but the count of those a short pick found).
CREATE FUNCTION tessera_hold_group(
    p_reservation UUID[], p_user UUID[], p_event UUID[], p_admission UUID[], p_type UUID[],
    p_quantity BIGINT[], p_near BIGINT[], p_per_event BIGINT[], p_per_type BIGINT[],
    p_counted UUID[], p_now TIMESTAMPTZ[], p_deadline TIMESTAMPTZ[])
RETURNS TABLE (r_n INTEGER, r_outcome TEXT, r_for_event BIGINT, r_for_type BIGINT, r_taken INTEGER,
               r_seats INTEGER[], r_prices BIGINT[])
LANGUAGE plpgsql AS $$
DECLARE
    i INTEGER;
    v_seats INTEGER[];
    v_prices BIGINT[];
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
        -- is taking, so a group never waits on a seat.
        v_seats := '{}';
        v_prices := '{}';
        IF p_near[i] IS NOT NULL THEN
            WITH near AS MATERIALIZED (
                     SELECT seat_number, seat_number - p_near[i] AS d FROM (SELECT seat_number FROM seats
                         WHERE event_id = p_event[i] AND ticket_type_id IS NULL AND status = 'available'
                           AND seat_number >= p_near[i]
                         ORDER BY seat_number LIMIT p_quantity[i] FOR UPDATE SKIP LOCKED) AS above
                     UNION ALL
                     SELECT seat_number, p_near[i] - seat_number AS d FROM (SELECT seat_number FROM seats
                         WHERE event_id = p_event[i] AND ticket_type_id IS NULL AND status = 'available'
                           AND seat_number < p_near[i]
                         ORDER BY seat_number DESC LIMIT p_quantity[i] FOR UPDATE SKIP LOCKED) AS below),
                 picked AS MATERIALIZED (SELECT seat_number FROM near ORDER BY d, seat_number LIMIT p_quantity[i]),
                 taken AS (
                     UPDATE seats SET status = 'held', reservation_id = p_reservation[i],
                         held_until = p_deadline[i], updated_at = p_now[i]
                     WHERE event_id = p_event[i] AND ticket_type_id IS NULL
                       AND seat_number IN (SELECT seat_number FROM picked)
                       AND (status = 'available' OR (status = 'held' AND held_until < p_now[i]))
                     RETURNING seat_number, price)
            SELECT COALESCE(array_agg(seat_number), '{}'), COALESCE(array_agg(price), '{}')
            INTO v_seats, v_prices FROM taken;
        END IF;
        IF cardinality(v_seats) < p_quantity[i] THEN
            -- Anywhere (or the rest of a short pick near a seat).
            WITH picked AS MATERIALIZED (
                     SELECT seat_number FROM seats
                     WHERE event_id = p_event[i]
                       AND ((p_type[i] IS NULL AND ticket_type_id IS NULL) OR ticket_type_id = p_type[i])
                       AND status IN ('available', 'held') AND (status = 'available' OR held_until < p_now[i])
                     LIMIT p_quantity[i] - cardinality(v_seats) FOR UPDATE SKIP LOCKED),
                 taken AS (
                     UPDATE seats SET status = 'held', reservation_id = p_reservation[i],
                         held_until = p_deadline[i], updated_at = p_now[i]
                     WHERE event_id = p_event[i] AND seat_number IN (SELECT seat_number FROM picked)
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

-- Payments, deciding only: the records of those that went through are written after it in
-- the same transaction (pg/payments.rs). Arrays, a payment each (in user order): user,
-- Idempotency-Key (NULL: none), request hash, payment, reservation, now. A row per payment:
-- its number, `paid`, `key` (the key was used before), `reservation` (not payable) or
-- `balance` (too low), and for a reservation found, its event, quantity, amount and type, the
-- balance after the debit and the places sold.
CREATE FUNCTION tessera_pay_group(
    p_user UUID[], p_key TEXT[], p_hash TEXT[], p_payment UUID[], p_reservation UUID[], p_now TIMESTAMPTZ[])
RETURNS TABLE (r_n INTEGER, r_outcome TEXT, r_event UUID, r_quantity INTEGER, r_amount BIGINT, r_type UUID,
               r_balance BIGINT, r_seats INTEGER[], r_seat_types UUID[])
-- Its statements keep one generic plan each: each finds its rows by a key whatever the values,
-- and planning them again for each payment cost more than running them.
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    i INTEGER;
    k INTEGER;
BEGIN
    -- Everyone's lock first, in user order, as for holds: the balances debited below, and no
    -- seat of a member touched while a person of the group is still to be locked.
    PERFORM 1 FROM users WHERE user_id = ANY (p_user) ORDER BY user_id FOR UPDATE;
    FOR i IN 1 .. COALESCE(array_length(p_user, 1), 0) LOOP
        r_n := i;
        r_event := NULL;
        r_quantity := NULL;
        r_amount := NULL;
        r_type := NULL;
        r_balance := NULL;
        r_seats := '{}';
        r_seat_types := '{}';
        -- The key first: a retry racing with the same key waits here for this one's commit.
        IF p_key[i] IS NOT NULL THEN
            INSERT INTO idempotency_keys (user_id, idem_key, request_hash, payment_id, created_at)
            VALUES (p_user[i], p_key[i], p_hash[i], p_payment[i], p_now[i])
            ON CONFLICT (user_id, idem_key) DO NOTHING;
            GET DIAGNOSTICS k = ROW_COUNT;
            IF k = 0 THEN
                r_outcome := 'key';
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        -- payments.rs's COMPLETE_RESERVATION's conditions, the row locked while the balance is
        -- checked; it is completed only once the debit has gone through.
        SELECT event_id, quantity, amount, ticket_type_id INTO r_event, r_quantity, r_amount, r_type
        FROM reservations
        WHERE reservation_id = p_reservation[i] AND user_id = p_user[i] AND status = 'pending'
          AND payment_deadline >= p_now[i]
          AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = reservations.event_id AND e.status = 'published')
        FOR NO KEY UPDATE OF reservations;
        IF NOT FOUND THEN
            DELETE FROM idempotency_keys WHERE user_id = p_user[i] AND idem_key = p_key[i];
            r_outcome := 'reservation';
            RETURN NEXT;
            CONTINUE;
        END IF;
        UPDATE users SET balance = balance - r_amount WHERE user_id = p_user[i] AND balance >= r_amount
        RETURNING balance INTO r_balance;
        IF NOT FOUND THEN
            DELETE FROM idempotency_keys WHERE user_id = p_user[i] AND idem_key = p_key[i];
            r_outcome := 'balance';
            RETURN NEXT;
            CONTINUE;
        END IF;
        UPDATE reservations SET status = 'completed', completed_at = p_now[i], updated_at = p_now[i]
        WHERE reservation_id = p_reservation[i];
        WITH sold AS (
            UPDATE seats SET status = 'sold', held_until = NULL, updated_at = p_now[i]
            WHERE reservation_id = p_reservation[i] AND status = 'held'
            RETURNING seat_number, ticket_type_id)
        SELECT COALESCE(array_agg(seat_number), '{}'), COALESCE(array_agg(ticket_type_id), '{}')
        INTO r_seats, r_seat_types FROM sold;
        IF cardinality(r_seats) <> r_quantity THEN
            -- Cannot happen while holds last until their deadline; the group fails and each
            -- payment is run again on its own, which refuses this one with nothing written.
            RAISE EXCEPTION 'reservation % holds % places of %', p_reservation[i], cardinality(r_seats), r_quantity;
        END IF;
        r_outcome := 'paid';
        RETURN NEXT;
    END LOOP;
END
$$;
