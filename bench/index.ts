// `npm run bench`: every benchmark, one after another, each printing its
// table and writing its JSON under bench/results/.

import './raft';
