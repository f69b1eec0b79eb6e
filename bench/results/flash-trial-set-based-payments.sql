-- A TRIAL, not a migration: the set-based payment group measured in flash-latest.md (2026-12-07,
-- fifth session). Its statement time was a third lower than 0020's loop, the sale time the same
-- within the runs' spread, so it was not applied. Kept for whoever takes the payments up again.

-- The payment group of 0020 as set-based statements. 0020 ran five statements for each member
-- (the key, the reservation, the debit, the reservation completed, the places sold); starting
-- each statement (its executor, its expressions, the table's CHECK constraints read back from
-- the catalog's text) cost more than the row it changed. Here each step is one statement over
-- the members the step before let through, so a member stops where it stopped in the loop, with
-- the same outcome. A group holds at most one payment per person (pg/payments.rs), so the
-- members' rows are distinct and no step depends on another member.
--
-- Each statement finds its rows by key from arrays (`= ANY`), never by a join with the rows of
-- another step: the plan is made once per connection (`force_generic_plan`), often while the
-- sale's tables are still empty, and a join planned then scanned every pending reservation and
-- every sold seat for each group. `enable_seqscan = off` keeps the same plans on a table that
-- looked empty when they were made.

CREATE OR REPLACE FUNCTION tessera_pay_group(
    p_user UUID[], p_key TEXT[], p_hash TEXT[], p_payment UUID[], p_reservation UUID[], p_now TIMESTAMPTZ[])
RETURNS TABLE (r_n INTEGER, r_outcome TEXT, r_event UUID, r_quantity INTEGER, r_amount BIGINT, r_type UUID,
               r_balance BIGINT, r_seats INTEGER[], r_seat_types UUID[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    n INTEGER := COALESCE(array_length(p_user, 1), 0);
    i INTEGER;
    j INTEGER;
    k INTEGER;
    v_keyed UUID[];
    -- The members let through so far, by person (one payment each), and their reservations.
    v_user UUID[];
    v_res UUID[];
    -- The reservations found payable: by person, with what the payment needs.
    f_user UUID[];
    f_res UUID[];
    f_event UUID[];
    f_quantity INTEGER[];
    f_amount BIGINT[];
    f_type UUID[];
    -- Debited: by person, the balance after.
    d_user UUID[];
    d_balance BIGINT[];
    -- The places sold: a row each, by reservation.
    s_res UUID[];
    s_seat INTEGER[];
    s_type UUID[];
    v_paid_res UUID[];
    v_back_user UUID[] := '{}';
    v_back_key TEXT[] := '{}';
BEGIN
    -- Everyone's lock first, in user order, as for holds.
    PERFORM 1 FROM users WHERE user_id = ANY (p_user) ORDER BY user_id FOR UPDATE;
    -- The keys first: a retry racing with the same key waits here for the other's commit.
    WITH keyed AS (
        INSERT INTO idempotency_keys (user_id, idem_key, request_hash, payment_id, created_at)
        SELECT t.user_id, t.idem_key, t.request_hash, t.payment_id, t.now
        FROM unnest(p_user, p_key, p_hash, p_payment, p_now) AS t(user_id, idem_key, request_hash, payment_id, now)
        WHERE t.idem_key IS NOT NULL ORDER BY t.user_id
        ON CONFLICT (user_id, idem_key) DO NOTHING
        RETURNING user_id)
    SELECT COALESCE(array_agg(user_id), '{}') INTO v_keyed FROM keyed;
    SELECT COALESCE(array_agg(t.user_id), '{}'), COALESCE(array_agg(t.reservation_id), '{}') INTO v_user, v_res
    FROM unnest(p_user, p_key, p_reservation) AS t(user_id, idem_key, reservation_id)
    WHERE t.idem_key IS NULL OR t.user_id = ANY (v_keyed);
    -- payments.rs's COMPLETE_RESERVATION's conditions, the rows locked while the balances are
    -- checked; they are completed only once the debit has gone through.
    SELECT COALESCE(array_agg(user_id), '{}'), COALESCE(array_agg(reservation_id), '{}'),
           COALESCE(array_agg(event_id), '{}'), COALESCE(array_agg(quantity), '{}'),
           COALESCE(array_agg(amount), '{}'), COALESCE(array_agg(ticket_type_id), '{}')
    INTO f_user, f_res, f_event, f_quantity, f_amount, f_type
    FROM (SELECT r.user_id, r.reservation_id, r.event_id, r.quantity, r.amount, r.ticket_type_id
          FROM reservations r
          WHERE r.reservation_id = ANY (v_res)
            -- The member's own: another person's member naming the same reservation is not it.
            AND EXISTS (SELECT 1 FROM unnest(v_res, v_user) AS m(reservation_id, user_id)
                        WHERE m.reservation_id = r.reservation_id AND m.user_id = r.user_id)
            AND r.status = 'pending'
            AND r.payment_deadline >= p_now[array_position(p_user, r.user_id)]
            AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = r.event_id AND e.status = 'published')
          ORDER BY r.user_id
          FOR NO KEY UPDATE OF r) AS payable;
    WITH debit AS (
        UPDATE users u SET balance = u.balance - f_amount[array_position(f_user, u.user_id)]
        WHERE u.user_id = ANY (f_user) AND u.balance >= f_amount[array_position(f_user, u.user_id)]
        RETURNING u.user_id, u.balance)
    SELECT COALESCE(array_agg(user_id), '{}'), COALESCE(array_agg(balance), '{}') INTO d_user, d_balance FROM debit;
    SELECT COALESCE(array_agg(f_res[array_position(f_user, d)]), '{}') INTO v_paid_res FROM unnest(d_user) AS d;
    UPDATE reservations SET status = 'completed', completed_at = p_now[array_position(p_reservation, reservation_id)],
        updated_at = p_now[array_position(p_reservation, reservation_id)]
    WHERE reservation_id = ANY (v_paid_res);
    WITH sold AS (
        UPDATE seats SET status = 'sold', held_until = NULL,
            updated_at = p_now[array_position(p_reservation, reservation_id)]
        WHERE reservation_id = ANY (v_paid_res) AND status = 'held'
        RETURNING reservation_id, seat_number, ticket_type_id)
    -- By reservation, so each one's places are side by side.
    SELECT COALESCE(array_agg(reservation_id ORDER BY reservation_id, seat_number), '{}'),
           COALESCE(array_agg(seat_number ORDER BY reservation_id, seat_number), '{}'),
           COALESCE(array_agg(ticket_type_id ORDER BY reservation_id, seat_number), '{}')
    INTO s_res, s_seat, s_type FROM sold;
    -- Each member's answer, in the order given.
    FOR i IN 1 .. n LOOP
        r_n := i;
        r_event := NULL;
        r_quantity := NULL;
        r_amount := NULL;
        r_type := NULL;
        r_balance := NULL;
        r_seats := '{}';
        r_seat_types := '{}';
        k := array_position(f_user, p_user[i]);
        IF p_key[i] IS NOT NULL AND NOT (p_user[i] = ANY (v_keyed)) THEN
            r_outcome := 'key';
        ELSIF k IS NULL THEN
            r_outcome := 'reservation';
        ELSE
            r_event := f_event[k];
            r_quantity := f_quantity[k];
            r_amount := f_amount[k];
            r_type := f_type[k];
            r_balance := d_balance[array_position(d_user, p_user[i])];
            IF r_balance IS NULL THEN
                r_outcome := 'balance';
            ELSE
                j := array_position(s_res, f_res[k]);
                WHILE j IS NOT NULL AND j <= cardinality(s_res) AND s_res[j] = f_res[k] LOOP
                    r_seats := r_seats || s_seat[j];
                    r_seat_types := r_seat_types || s_type[j];
                    j := j + 1;
                END LOOP;
                IF cardinality(r_seats) <> r_quantity THEN
                    -- Cannot happen while holds last until their deadline; the group fails and
                    -- each payment is run again on its own, which refuses this one with nothing
                    -- written.
                    RAISE EXCEPTION 'reservation % holds % places of %', f_res[k], cardinality(r_seats), r_quantity;
                END IF;
                r_outcome := 'paid';
            END IF;
        END IF;
        IF r_outcome IN ('reservation', 'balance') AND p_key[i] IS NOT NULL THEN
            v_back_user := v_back_user || p_user[i];
            v_back_key := v_back_key || p_key[i];
        END IF;
        RETURN NEXT;
    END LOOP;
    -- A refused payment takes its key back, so the same key may be used again.
    IF cardinality(v_back_user) > 0 THEN
        DELETE FROM idempotency_keys
        WHERE user_id = ANY (v_back_user) AND idem_key = v_back_key[array_position(v_back_user, user_id)];
    END IF;
END
$$;
