-- Sessions are stored under the SHA-256 of their id from now on (the `id` column holds it), so a
-- read of the database gives no live session ids. The rows stored under ids in clear would never
-- be found again, and each holds a live id: they go, and their people sign in again.
DELETE FROM sessions;
