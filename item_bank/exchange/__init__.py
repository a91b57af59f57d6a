"""Item exchange with the tools question writers already use: Moodle XML, GIFT, Aiken and QTI
2.1/2.2/3.0 in (:mod:`.load`), QTI 3.0 and Moodle XML out (:mod:`.write`)."""
