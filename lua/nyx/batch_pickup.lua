--- nyx.batch_pickup: a batch picked up from the database by another process (lua/nyx/batch.lua).
return { batch_pickup = require("nyx.batch").pickup }
